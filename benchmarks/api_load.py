"""Load test of the HTTP API (issue 18.5): `mealytics serve` over a published 100k-customer
warehouse, N concurrent clients for S seconds, while new versions are published.

Bounded and loopback only. Two phases:

- `prepare` (once, ~5-15 min): a copy of the generated source (never the original), and
  `mealytics run` on it for its last day D, then `mealytics source advance --days 1` and a
  run for each of D+1, D+2, D+3; after each run a copy of its warehouse is kept
  (benchmarks/work/api_load/warehouse-<as_of>.duckdb). Four warehouses with different data.
- `run` (the load): a fresh publish folder gets the first warehouse (`python -m
  pipelines.publish --warehouse <copy> --out <folder>`); `mealytics serve` starts on
  127.0.0.1 at a free port (a subprocess; its own API state with an admin token and an
  analyst token of one website); the clients run in ANOTHER process (this one: asyncio +
  httpx, one AsyncClient per client, closed loop without think time: each client sends its
  next request as soon as the last one answered), cycling over the endpoints; during the
  run the three other warehouses are published in turn into the served folder (at 1/4,
  2/4 and 3/4 of the time). Any non-2xx answer or exception is an error; every answer's
  `X-Mealytics-Version` must name a version that was published. The server's RSS is
  sampled every second (/proc).

The endpoints: the four loyalty reads (with days/limit variants), calculate for a few
windows (the first call computes and stores, repeats read the stored record), the list of
records and one record, dashboard-widgets/, and every GET without path parameters under
/api/v1/analytics/ and /api/v1/dashboard/ that /openapi.json lists (endpoints other
helpers add are covered when they exist).

Results: a table per endpoint (n, p50, p90, p99, max in ms), requests/s, errors, versions
seen, server RSS; JSON to benchmarks/work/api_load/results-<stamp>.json (and --json PATH).

    .venv/bin/python benchmarks/api_load.py prepare --source /work/bench100k/operational.db
    .venv/bin/python benchmarks/api_load.py run --clients 50 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's `pipelines`, as the server's PYTHONPATH
WORK = ROOT / "benchmarks" / "work" / "api_load"
MEALYTICS = Path(sys.executable).parent / "mealytics"
PYTHON = sys.executable
DEFAULT_SOURCE = Path("/work/bench100k/operational.db")
LOYALTY = "/api/v1/loyalty-management"
#: The endpoints the target (p99 < 100 ms) is about.
LOYALTY_READS = ("tier_distribution", "points_trend", "top_redemptions", "engagement_stats")
#: The seconds after a publication's switch reported apart (a new version's cold cache).
AFTER_S = 5.0


# ----------------------------------------------------------------------------- prepare


def _last_day(source: Path) -> dt.date:
    with sqlite3.connect(source) as db:
        newest = db.execute("select max(created_at) from orders_order").fetchone()[0]
    return dt.datetime.fromisoformat(newest).date()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEALYTICS_")}
    env.update({"PYTHONPATH": str(ROOT), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                "NO_COLOR": "1", "TERM": "dumb", **extra})
    return env


def prepare(source: Path, days: int = 3) -> list[Path]:
    """Warehouses for as_of D..D+days over a copy of `source`; their paths."""
    build = WORK / "build"
    if build.exists():
        shutil.rmtree(build)
    (build / "dagster").mkdir(parents=True)
    (build / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    copy = build / "operational.db"
    began = time.perf_counter()
    shutil.copyfile(source, copy)
    env = _env(MEALYTICS_SOURCE_URL=f"sqlite:///{copy}",
               MEALYTICS_WAREHOUSE=str(build / "data" / "warehouse.duckdb"),
               DAGSTER_HOME=str(build / "dagster"), MEALYTICS_REFRESH_MINUTES="0",
               MEALYTICS_CONTENT_CHECK_EVERY="0")
    kept = []
    for step in range(days + 1):
        if step:
            t = time.perf_counter()
            subprocess.run([str(MEALYTICS), "-q", "source", "advance", "--days", "1"],
                           env=env, check=True, capture_output=True, cwd=build)
            print(f"advanced a day in {time.perf_counter() - t:.0f} s", flush=True)
        day = _last_day(copy)
        t = time.perf_counter()
        done = subprocess.run([str(MEALYTICS), "-q", "run", "--as-of", day.isoformat()],
                              env=env, capture_output=True, text=True, cwd=build)
        if done.returncode != 0:
            print(done.stdout[-4000:], done.stderr[-4000:], file=sys.stderr)
            raise SystemExit(f"mealytics run --as-of {day} failed ({done.returncode})")
        target = WORK / f"warehouse-{day.isoformat()}.duckdb"
        shutil.copyfile(build / "data" / "warehouse.duckdb", target)
        kept.append(target)
        print(f"as_of {day}: run in {time.perf_counter() - t:.0f} s -> {target}", flush=True)
    print(f"prepared {len(kept)} warehouses in {time.perf_counter() - began:.0f} s")
    return kept


def prepared() -> list[Path]:
    return sorted(WORK.glob("warehouse-*.duckdb"))


# ----------------------------------------------------------------------------- the load


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def publish(warehouse: Path, out: Path) -> str:
    """`python -m pipelines.publish` of `warehouse` into `out`: the new version's id."""
    done = subprocess.run([PYTHON, "-m", "pipelines.publish", "--warehouse", str(warehouse),
                           "--out", str(out)], env=_env(), capture_output=True, text=True,
                          cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"publishing {warehouse} failed: {done.stderr[-2000:]}")
    found = re.search(r"version (\S+): \d+ marts", done.stdout)
    if found is None:
        raise SystemExit(f"publishing {warehouse}: no version in {done.stdout[-500:]!r}")
    return found.group(1)


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by `pid` and its children (uvicorn workers)."""
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


def _rss_kib(pid: int) -> int:
    """Resident memory of `pid` and its children (uvicorn workers), KiB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for one in pids:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


@dataclass
class Server:
    """`mealytics serve` in a subprocess on 127.0.0.1."""

    folder: Path
    warehouse: Path
    workers: int = 1
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen | None = None
    rss: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state_url(self) -> str:
        return f"sqlite:///{self.folder / 'api.db'}"

    def env(self) -> dict[str, str]:
        return _env(MEALYTICS_PUBLISH_DIR=str(self.folder / "publish"),
                    MEALYTICS_WAREHOUSE=str(self.warehouse), MEALYTICS_API_STATE=self.state_url)

    def start(self) -> None:
        import httpx

        command = [str(MEALYTICS), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.workers > 1:
            command += ["--workers", str(self.workers)]
        self.log = (self.folder / "serve.log").open("w")
        self.process = subprocess.Popen(command, env=self.env(), cwd=self.folder,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, "mealytics serve exited"
            try:
                if httpx.get(self.url + "/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "mealytics serve did not start"
            time.sleep(0.2)
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while self.process and self.process.poll() is None:
            self.rss.append(_rss_kib(self.process.pid))
            time.sleep(1)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@dataclass
class Endpoint:
    label: str
    method: str
    path: str
    params: dict | None = None
    json: dict | None = None
    token: str = "analyst"
    #: whether the answer reads the marts (and so names the version it read)
    reads_marts: bool = True


def _as_of(warehouse: Path) -> tuple[int, dt.date]:
    """(the website with the most loyalty accounts, its as_of) in `warehouse`."""
    from pipelines import duck

    con = duck.connect(str(warehouse), read_only=True)
    try:
        website = con.execute(
            "select website_id from marts.dim_loyalty_accounts group by 1 "
            "order by count(*) desc, 1 limit 1").fetchone()[0]
        as_of = con.execute("select max(business_date) from marts.fct_daily_snapshot "
                            "where website_id = ?", [website]).fetchone()[0]
        return website, as_of
    finally:
        con.close()


def endpoints(openapi: dict, website: int, as_of: dt.date, record_id: int) -> list[Endpoint]:
    """What the clients cycle over: request 003's endpoints with variants, and every GET
    without path parameters under /api/v1/analytics/ and /api/v1/dashboard/."""
    out = [Endpoint("tier_distribution", "GET", f"{LOYALTY}/analytics/tier_distribution/")]
    out += [Endpoint(f"points_trend days={d}", "GET", f"{LOYALTY}/analytics/points_trend/",
                     {"days": d}) for d in (7, 30, 365)]
    out += [Endpoint(f"top_redemptions limit={n}", "GET",
                     f"{LOYALTY}/analytics/top_redemptions/", {"limit": n}) for n in (5, 10, 100)]
    out += [Endpoint(f"engagement_stats days={d}", "GET",
                     f"{LOYALTY}/analytics/engagement_stats/", {"days": d}) for d in (7, 30, 90)]
    # the admin token sees every website: it names one
    out += [Endpoint("tier_distribution (admin)", "GET",
                     f"{LOYALTY}/analytics/tier_distribution/", {"website": website},
                     token="admin"),
            Endpoint("points_trend days=30 (admin)", "GET", f"{LOYALTY}/analytics/points_trend/",
                     {"days": 30, "website": website}, token="admin")]
    for label, first, last in (("7d", as_of - dt.timedelta(days=6), as_of),
                               ("30d", as_of - dt.timedelta(days=29), as_of),
                               ("90d", as_of - dt.timedelta(days=89), as_of),
                               ("month", (as_of.replace(day=1) - dt.timedelta(days=1))
                                .replace(day=1), as_of.replace(day=1) - dt.timedelta(days=1))):
        out.append(Endpoint(f"calculate {label}", "POST", f"{LOYALTY}/analytics/calculate/",
                            json={"date_from": first.isoformat(), "date_to": last.isoformat()}))
    out += [Endpoint("analytics/ (records)", "GET", f"{LOYALTY}/analytics/",
                     reads_marts=False),
            Endpoint("analytics/{id}/", "GET", f"{LOYALTY}/analytics/{record_id}/",
                     reads_marts=False),
            Endpoint("dashboard-widgets/", "GET", f"{LOYALTY}/dashboard-widgets/",
                     reads_marts=False)]
    for path, methods in sorted(openapi.get("paths", {}).items()):
        if "get" in methods and "{" not in path and path.startswith(
                ("/api/v1/analytics/", "/api/v1/analytics", "/api/v1/dashboard")):
            out.append(Endpoint(path.removeprefix("/api/v1/"), "GET", path))
    return out


@dataclass
class Sample:
    label: str
    ms: float
    status: int | None
    version: str | None
    error: str | None = None
    #: when the request was sent, in seconds from the start of the load
    at: float = 0.0


def http_client(base: str):
    """One simulated user's HTTP client: one connection, kept alive. Made before the load
    starts: making one costs the event loop tens of milliseconds (httpx builds an SSL
    context), which would otherwise be counted in the latency of requests under way."""
    import httpx

    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    return httpx.AsyncClient(base_url=base, timeout=30, limits=limits)


async def _client(n: int, http, tokens: dict[str, str], plan: list[Endpoint],
                  began_at: float, deadline: list[float], think_s: float,
                  samples: list[Sample], published: asyncio.Event, clients: int = 1) -> None:
    order = plan[n % len(plan):] + plan[:n % len(plan)]  # each client starts elsewhere
    # With a think time, users arrive as users do, not all at once: the clients start spread
    # over one think time, and each pause is drawn between half and one and a half of it
    # (a closed loop without think time starts every client at once, as before).
    jitter = random.Random(n)
    if think_s:
        await asyncio.sleep(think_s * n / max(clients, 1))
    async with http:
        i = 0
        # the time asked for, and at least 5 s more after the last publication
        while time.perf_counter() < deadline[0] or not published.is_set():
            e = order[i % len(order)]
            i += 1
            headers = {"Authorization": f"Bearer {tokens[e.token]}"}
            began = time.perf_counter()
            try:
                answer = await http.request(e.method, e.path, params=e.params, json=e.json,
                                            headers=headers)
                ms = (time.perf_counter() - began) * 1000
                error = None if 200 <= answer.status_code < 300 else answer.text[:300]
                samples.append(Sample(e.label, ms, answer.status_code,
                                      answer.headers.get("x-mealytics-version"), error,
                                      began - began_at))
            except Exception as exc:  # noqa: BLE001 (every exception counts as an error)
                ms = (time.perf_counter() - began) * 1000
                samples.append(Sample(e.label, ms, None, None, f"{type(exc).__name__}: {exc}",
                                      began - began_at))
            if think_s:
                await asyncio.sleep(think_s * jitter.uniform(0.5, 1.5))


async def _publisher(warehouses: list[Path], out: Path, began: float, seconds: float,
                     published: list[tuple[float, str]], done: asyncio.Event) -> None:
    """Publish each warehouse in turn: the first at 10 % of the time, the next ones a
    quarter of the time later (or as soon as the previous one is done, if later), so that
    each is served for a while before the end; then set `done`."""
    for k, warehouse in enumerate(warehouses):
        delay = began + seconds * (0.1 + 0.25 * k) - time.perf_counter()
        await asyncio.sleep(max(delay, 0))
        t = time.perf_counter()
        version = await asyncio.to_thread(publish, warehouse, out)
        published.append((round(t - began, 1), version, round(time.perf_counter() - t, 1)))
        print(f"  t={t - began:5.1f}s published {version} ({warehouse.name}) in "
              f"{time.perf_counter() - t:.1f} s", flush=True)
    done.set()


def _percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of sorted `values`."""
    rank = max(1, -(-len(values) * p // 100))
    return values[int(rank) - 1]


def load(clients: int, seconds: float, warehouses: list[Path], workers: int = 1,
         think_ms: float = 0.0, out_json: Path | None = None, note: str = "",
         work: Path = WORK) -> dict:
    """The load (see the module's docstring); its results, also written as JSON. `work`:
    where the run's folder (publish folder, API state, the server's log) goes."""
    import httpx

    from pipelines.api import state

    first, later = warehouses[0], warehouses[1:4]
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    folder = work / f"run-{stamp}"
    folder.mkdir(parents=True)
    versions = [publish(first, folder / "publish")]
    server = Server(folder, first, workers)
    website, as_of = _as_of(first)
    engine = state.open_state(server.state_url)
    tokens = {"admin": state.create_token(engine, "admin", ())[1],
              "analyst": state.create_token(engine, "analyst", (website,))[1]}
    engine.dispose()
    server.start()
    try:
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        for kind, chart in (("points_issued", "line"), ("tier_distribution", "pie")):
            httpx.post(server.url + f"{LOYALTY}/dashboard-widgets/", headers=admin, json={
                "widget_type": kind, "title": kind, "position": 1,
                "configuration": {"chart_type": chart}}).raise_for_status()
        record = httpx.post(server.url + f"{LOYALTY}/analytics/calculate/", headers=admin,
                            json={"date_from": (as_of - dt.timedelta(days=29)).isoformat(),
                                  "date_to": as_of.isoformat(), "website": website}, timeout=60)
        record.raise_for_status()
        openapi = httpx.get(server.url + "/openapi.json").json()
        plan = endpoints(openapi, website, as_of, record.json()["id"])
        # warm-up (not timed): one request per endpoint, each must answer 2xx
        with httpx.Client(base_url=server.url, timeout=60) as http:
            for e in plan:
                answer = http.request(e.method, e.path, params=e.params, json=e.json,
                                      headers={"Authorization": f"Bearer {tokens[e.token]}"})
                if answer.status_code >= 300:
                    raise SystemExit(f"warm-up {e.label}: {answer.status_code} {answer.text}")
        rss_before = _rss_kib(server.process.pid)
        cpu_before = _cpu_s(server.process.pid), time.process_time()
        samples: list[Sample] = []
        published: list[tuple] = []
        load_before = os.getloadavg()

        async def main() -> float:
            https = [http_client(server.url) for _ in range(clients)]
            began = time.perf_counter()
            deadline = [began + seconds]
            done = asyncio.Event()

            async def publisher() -> None:
                await _publisher(later, folder / "publish", began, seconds, published, done)
                # (no await between `done` and this: no client looks in between)
                deadline[0] = max(deadline[0], time.perf_counter() + 5)

            tasks = [_client(n, https[n], tokens, plan, began, deadline, think_ms / 1000,
                             samples, done, clients) for n in range(clients)]
            await asyncio.gather(publisher(), *tasks)
            return time.perf_counter() - began

        print(f"{clients} clients x {seconds:.0f} s, {len(plan)} endpoints, website {website} "
              f"(as_of {as_of}), server pid {server.process.pid}", flush=True)
        started = dt.datetime.now().replace(microsecond=0)  # the log's local time
        wall = asyncio.run(main())
        window = (started, dt.datetime.now())
        versions += [version for _, version, _ in published]
        rss_after = _rss_kib(server.process.pid)
        # cores used during the load: the server's, and this client process's
        cpu = {"server_cores": round((_cpu_s(server.process.pid) - cpu_before[0]) / wall, 2),
               "clients_cores": round((time.process_time() - cpu_before[1]) / wall, 2)}
    finally:
        server.stop()
    return report(samples, plan, versions, published, wall, clients, seconds, think_ms,
                  workers, server.rss, rss_before, rss_after, load_before, note,
                  out_json or folder / "results.json", folder / "serve.log", window, cpu)


def _key(method: str, path: str) -> str:
    return f"{method} {path}"


_LOG_LINE = re.compile(r"^(\S+ \S+),\d+ mealytics\.api (\S+) (\S+) (\d+) ([\d.]+)ms ")


def _server_times(log: Path, window: tuple[dt.datetime, dt.datetime]) -> dict:
    """(p50, p99) ms per method and path of the server's own log lines (`RequestLog`: from
    the request's arrival in the app to its last byte sent) within the load's window.
    Endpoints differing only in their query string share a path."""
    times: dict[str, list[float]] = {}
    for line in log.read_text(errors="replace").splitlines():
        m = _LOG_LINE.match(line)
        if not m:
            continue
        at = dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")
        if window[0] <= at <= window[1]:
            times.setdefault(_key(m.group(2), m.group(3)), []).append(float(m.group(5)))
    out = {}
    for key, values in times.items():
        values.sort()
        out[key] = (round(_percentile(values, 50), 1), round(_percentile(values, 99), 1))
    return out


def report(samples, plan, versions, published, wall, clients, seconds, think_ms, workers,
           rss, rss_before, rss_after, load_before, note, out_json: Path, log: Path,
           load_window: tuple[dt.datetime, dt.datetime], cpu: dict | None = None) -> dict:
    by: dict[str, list[float]] = {e.label: [] for e in plan}
    errors = [s for s in samples if s.error is not None]
    # every answer read from the marts names the version it read; it must be one published
    # (the records and widgets read the API's state only, and name none)
    reads_marts = {e.label for e in plan if e.reads_marts}
    strangers = [s for s in samples if s.error is None and (
        (s.version is not None and s.version not in versions)
        or (s.version is None and s.label in reads_marts))]
    for s in samples:
        by.setdefault(s.label, []).append(s.ms)
    rows = []
    for label, values in by.items():
        values.sort()
        e = next((e for e in plan if e.label == label), None)
        rows.append({"endpoint": label, "path_key": _key(e.method, e.path) if e else None,
                     "n": len(values),
                     **({k: round(_percentile(values, p), 1) for k, p in
                         (("p50", 50), ("p90", 90), ("p99", 99))} if values else {}),
                     "max": round(values[-1], 1) if values else None})
    server_ms = _server_times(log, load_window)
    for row in rows:
        row["server_p50"], row["server_p99"] = server_ms.get(row["path_key"], (None, None))
        del row["path_key"]
    # the four loyalty reads: steady, and in the AFTER_S seconds after each switch (the first
    # requests on a new version find its cache empty and run the marts' SQL)
    switches = [start + took for start, _, took in published]
    phases: dict[str, dict[str, list[float]]] = {}
    for s in samples:
        if s.error is None and s.label.split()[0] in LOYALTY_READS:
            after = any(0 <= s.at - t < AFTER_S for t in switches)
            group = phases.setdefault(s.label.split()[0], {"steady": [], "after": []})
            group["after" if after else "steady"].append(s.ms)
    split = []
    for name, group in phases.items():
        row = {"endpoint": name}
        for phase, values in group.items():
            values.sort()
            row[phase] = {"n": len(values), **({
                "p50": round(_percentile(values, 50), 1),
                "p99": round(_percentile(values, 99), 1),
                "max": round(values[-1], 1)} if values else {})}
        split.append(row)
    every = sorted(s.ms for s in samples)
    # when the slow requests happened: per second of the run, and the slowest ones
    buckets: dict[int, list[float]] = {}
    for s in samples:
        buckets.setdefault(int(s.at), []).append(s.ms)
    timeline = [{"second": k, "n": len(v), "p50": round(_percentile(sorted(v), 50), 1),
                 "max": round(max(v), 1)} for k, v in sorted(buckets.items())]
    slowest = [{"at": round(s.at, 2), "endpoint": s.label, "ms": round(s.ms, 1),
                "version": s.version} for s in sorted(samples, key=lambda s: -s.ms)[:20]]
    seen = sorted({s.version for s in samples if s.version})
    result = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "code": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip(),
        "clients": clients, "seconds": seconds, "wall_s": round(wall, 1),
        "client_model": "closed loop, no think time" if not think_ms
        else f"closed loop, {think_ms:g} ms think time (each pause 0.5-1.5x, starts spread "
             "over one think time)",
        "workers": workers, "requests": len(samples),
        "requests_per_s": round(len(samples) / wall, 1),
        "errors": len(errors), "error_examples": sorted({f"{s.label}: {s.status} {s.error}"
                                                         for s in errors})[:10],
        "unknown_versions": len(strangers), "versions_published": versions,
        "versions_seen": seen, "publications": published,
        "all": {"p50": round(_percentile(every, 50), 1), "p90": round(_percentile(every, 90), 1),
                "p99": round(_percentile(every, 99), 1), "max": round(every[-1], 1)}
        if every else {},
        "server_rss_mib": {"before": round(rss_before / 1024), "after": round(rss_after / 1024),
                           "max": round(max(rss, default=0) / 1024)},
        "cpu": cpu or {},
        "load_avg_before": [round(x, 1) for x in load_before],
        "load_avg_after": [round(x, 1) for x in os.getloadavg()],
        "note": note, "endpoints": rows,
        "loyalty_steady_vs_after_publication": split, "after_publication_s": AFTER_S,
        "timeline": timeline, "slowest": slowest,
    }
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    print(f"JSON: {out_json}")
    return result


def print_table(result: dict) -> None:
    print(f"\n{result['clients']} clients, {result['client_model']}, {result['wall_s']} s, "
          f"{result['requests']} requests ({result['requests_per_s']} req/s), "
          f"errors {result['errors']}, unknown versions {result['unknown_versions']}, "
          f"versions seen {len(result['versions_seen'])} of {len(result['versions_published'])}"
          f" published; server RSS {result['server_rss_mib']}; CPU cores {result['cpu']}; load "
          f"{result['load_avg_before']} -> {result['load_avg_after']}")
    print("\n| endpoint | n | p50 ms | p90 ms | p99 ms | max ms | server p50 | server p99 |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for row in result["endpoints"]:
        print(f"| {row['endpoint']} | {row['n']} | {row.get('p50')} | {row.get('p90')} | "
              f"{row.get('p99')} | {row['max']} | {row['server_p50']} | {row['server_p99']} |")
    a = result["all"]
    print(f"| **all** | {result['requests']} | {a.get('p50')} | {a.get('p90')} | "
          f"{a.get('p99')} | {a.get('max')} | | |")
    print(f"\nThe four loyalty reads (all variants): steady vs the {result['after_publication_s']}"
          " s after each publication's switch")
    print("\n| endpoint | n steady | p50 | p99 | max | n after | p50 | p99 | max |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for row in result["loyalty_steady_vs_after_publication"]:
        a, b = row["steady"], row["after"]
        print(f"| {row['endpoint']} | {a['n']} | {a.get('p50')} | {a.get('p99')} | {a.get('max')}"
              f" | {b['n']} | {b.get('p50')} | {b.get('p99')} | {b.get('max')} |")
    for example in result["error_examples"]:
        print("error:", example)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    prep = commands.add_parser("prepare", help="build the warehouses the load publishes")
    prep.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    prep.add_argument("--days", type=int, default=3)
    go = commands.add_parser("run", help="the load: serve, clients, three publications")
    go.add_argument("--clients", type=int, default=50)
    go.add_argument("--seconds", type=float, default=60)
    go.add_argument("--warehouse", type=Path, nargs="+", default=None,
                    help="warehouses to publish in turn, the first served from the start "
                         "(default: the prepared ones)")
    go.add_argument("--workers", type=int, default=1, help="uvicorn workers of serve")
    go.add_argument("--think-ms", type=float, default=0.0,
                    help="each client's pause between requests (default 0: closed loop)")
    go.add_argument("--json", type=Path, default=None, help="also write the results here")
    go.add_argument("--note", default="", help="recorded with the results")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        prepare(args.source.resolve(), args.days)
        return 0
    warehouses = [w.resolve() for w in args.warehouse] if args.warehouse else prepared()
    if len(warehouses) < 2:
        parser.error("no warehouses: run `prepare` first, or give --warehouse")
    result = load(args.clients, args.seconds, warehouses, args.workers, args.think_ms,
                  args.json, args.note)
    return 1 if result["errors"] or result["unknown_versions"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
