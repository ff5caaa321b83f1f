{#
    Helpers of the loyalty slices models (macros/incremental/slices.sql).
#}

{#-
    The keys (`keys`, columns of both relations) of the rows that a move of as_of brought
    into or took out of a model cut at each website's as_of_date: rows of `rows` (uncut,
    with website_id and the date column `rows_date`) on or before as_of after the last day
    the model (`existing`, with website_id and `existing_date`) holds for their website,
    and the model's rows after as_of. A row the model lacks on or before its website's
    last day was not there (or came with a change the log lists). `websites`: each
    website's as_of_date (int_websites_as_of).

    `since`: a UTC timestamp column of `rows` whose business date is `rows_date`. In mode
    'changes', when every website has rows in the model, rows before the earliest
    website's last day (less a day: a business date is within 14 hours of UTC) are left
    unread, so the scan skips the history (a filter on the raw column, pushed down).
-#}
{% macro as_of_moved(window, existing, existing_date, rows, rows_date, keys, websites, since=none) -%}
    {%- set floor = none -%}
    {%- if since and window.mode == 'changes' -%}
        {%- set found = run_query(
            "select min(last_days.last_date), count(*) filter (where last_days.last_date is null)"
            ~ " from " ~ websites ~ " as websites_now left join (select held.website_id, max(held."
            ~ existing_date ~ ") as last_date from " ~ existing ~ " as held group by held.website_id)"
            ~ " as last_days on websites_now.website_id = last_days.website_id") -%}
        {%- if found.rows[0][0] is not none and found.rows[0][1] == 0 -%}
            {%- set floor = found.rows[0][0] -%}
        {%- endif -%}
    {%- endif -%}
    select {% for key in keys %}new_rows.{{ key }}{{ ', ' if not loop.last }}{% endfor %}
    from {{ rows }} as new_rows
    inner join {{ websites }} as websites_now on new_rows.website_id = websites_now.website_id
    left join (
        select held.website_id, max(held.{{ existing_date }}) as last_date
        from {{ existing }} as held
        group by held.website_id
    ) as last_days on new_rows.website_id = last_days.website_id
    where new_rows.{{ rows_date }} <= websites_now.as_of_date
        and (last_days.last_date is null or new_rows.{{ rows_date }} > last_days.last_date)
        {%- if floor is not none %}
        and new_rows.{{ since }} >= cast('{{ floor }} 00:00:00+00' as {{ type_timestamp_tz() }}) - interval 1 day
        {%- endif %}
    union
    select {% for key in keys %}old_rows.{{ key }}{{ ', ' if not loop.last }}{% endfor %}
    from {{ existing }} as old_rows
    inner join {{ websites }} as websites_now on old_rows.website_id = websites_now.website_id
    where old_rows.{{ existing_date }} > websites_now.as_of_date
{%- endmacro %}

{#-
    The loyalty accounts (`row_id`) whose website the window changed, or that it inserted
    or deleted: an account's entries and redemptions take their website, and so their
    business dates and clock, from it. Other account changes (balance, tier) change
    nothing the ledger models read.
-#}
{% macro accounts_moved(window) -%}
    select accounts_changed.row_id
    from ({{ raw_changes(window, 'loyalty_loyaltyaccount') }}) as accounts_changed
    left join {{ raw_relation('loyalty_loyaltyaccount') }} as accounts_now on accounts_changed.row_id = accounts_now.id
    where accounts_changed.before is null
        or accounts_now.id is null
        or cast({{ json_text('accounts_changed.before', 'website_id') }} as {{ dbt.type_bigint() }})
        is distinct from accounts_now.website_id
{%- endmacro %}

{#-
    The account days a changed ledger entry or redemption can be on: `changed`, a query
    of (account_id, created_at) (raw_changed: before and after the change), each with the
    day before, the UTC date and the day after (a business date is within 14 hours of
    UTC in any time zone), as (loyalty_account_id, business_date).
-#}
{% macro account_days_around(changed) -%}
    select
        changed_rows.account_id as loyalty_account_id,
        cast(changed_rows.created_at at time zone 'UTC' as date) + around.days as business_date
    from ({{ changed }}) as changed_rows
    cross join (select unnest([-1, 0, 1]) as days) as around
{%- endmacro %}

{#-
    The rows of upstream slices model `model_name` that it removed (`_sign` -1) or added
    (+1) since this model last ran (every batch of the window).
-#}
{% macro delta_rows(window, model_name) -%}
    select
        removed_or_added.*,
        case when removed_or_added._after then 1 else -1 end as _sign
    from {{ delta_relation(model_name) }} as removed_or_added
    where not removed_or_added._full
        and removed_or_added._batch > {{ window.after_batch }}
        and removed_or_added._batch <= {{ window.batch }}
{%- endmacro %}

{#-
    The days of a running total from the first changed one on: for each website of
    `changed` (website_id, business_date), every day of `spine` (the new calendar) and of
    `existing` (the model's table) on or after its earliest changed day (a day's running
    total is made of every day before it: a change on day d changes every later day).
-#}
{% macro days_from_first_changed(changed, spine, existing) -%}
    select every_day.website_id, every_day.business_date
    from (
        select calendar.website_id, calendar.business_date from {{ spine }} as calendar
        union
        select held.website_id, held.business_date from {{ existing }} as held
    ) as every_day
    inner join (
        select changed_days.website_id, min(changed_days.business_date) as first_changed
        from ({{ changed }}) as changed_days
        group by changed_days.website_id
    ) as firsts
        on every_day.website_id = firsts.website_id
        and every_day.business_date >= firsts.first_changed
{%- endmacro %}

{#-
    The account days of running totals from the first changed one on: for each account of
    `changed` (loyalty_account_id, business_date), every day of `current` (the upstream
    rows) and of `existing` (the model's table) from its last existing day before its
    earliest changed day (whose next day may have changed), or from that earliest day.
-#}
{% macro account_days_from_first_changed(changed, current, existing) -%}
    select every_day.loyalty_account_id, every_day.business_date
    from (
        select upstream_days.loyalty_account_id, upstream_days.business_date from {{ current }} as upstream_days
        union
        select held.loyalty_account_id, held.business_date from {{ existing }} as held
    ) as every_day
    inner join (
        select
            firsts.loyalty_account_id,
            coalesce(max(before_first.business_date), firsts.first_changed) as first_day
        from (
            select changed_days.loyalty_account_id, min(changed_days.business_date) as first_changed
            from ({{ changed }}) as changed_days
            group by changed_days.loyalty_account_id
        ) as firsts
        left join {{ existing }} as before_first
            on firsts.loyalty_account_id = before_first.loyalty_account_id
            and before_first.business_date < firsts.first_changed
        group by firsts.loyalty_account_id, firsts.first_changed
    ) as starts
        on every_day.loyalty_account_id = starts.loyalty_account_id
        and every_day.business_date >= starts.first_day
{%- endmacro %}
