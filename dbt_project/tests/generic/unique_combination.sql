{#
    The combination of `columns` is unique: fails with each combination (none of its
    columns NULL, as dbt's unique test skips NULL) found on more than one row. The same
    proof as `unique` on "a || '-' || b", grouped by the columns themselves: no string is
    built per row (half the time on the 8-10M-row tables at 1M customers).
#}
{% test unique_combination(model, columns) %}

select
    {{ columns | join(', ') }},
    count(*) as n_records
from {{ model }}
where {% for column in columns %}{{ column }} is not null{% if not loop.last %} and {% endif %}{% endfor %}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
