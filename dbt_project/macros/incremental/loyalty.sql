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
-#}
{% macro as_of_moved(existing, existing_date, rows, rows_date, keys, websites) -%}
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
    union
    select {% for key in keys %}old_rows.{{ key }}{{ ', ' if not loop.last }}{% endfor %}
    from {{ existing }} as old_rows
    inner join {{ websites }} as websites_now on old_rows.website_id = websites_now.website_id
    where old_rows.{{ existing_date }} > websites_now.as_of_date
{%- endmacro %}

{#-
    Values of `keys` of the rows of upstream slices model `model_name` whose projection on
    `keys` and `columns` changed since this model last ran: the rows removed and added,
    counted -1 and +1 per projected row over every batch of the window; a projection whose
    count is not 0 changed (a row that changed only in other columns cancels out).
-#}
{% macro delta_changed_columns(window, model_name, keys, columns) -%}
    {%- set projected = keys + columns -%}
    select distinct {{ keys | join(', ') }}
    from (
        select {{ projected | join(', ') }}
        from {{ delta_relation(model_name) }}
        where not _full and _batch > {{ window.after_batch }} and _batch <= {{ window.batch }}
        group by {{ projected | join(', ') }}
        having sum(case when _after then 1 else -1 end) <> 0
    ) as projections_changed
{%- endmacro %}

{#-
    The website days of a running total from the first changed one on: every day of
    `spine` (the new calendar) and of `existing` (the model's table) on or after the
    earliest of `changed` (website_id, business_date) for its website. A day's running
    total is made of every day before it: a change on day d changes every later day.
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
