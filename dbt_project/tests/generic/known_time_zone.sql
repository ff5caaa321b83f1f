{#
    Every value of the column is a time zone the warehouse knows (DuckDB's built-in ICU
    list): an unknown zone would make every business date of that website fail.
#}
{% test known_time_zone(model, column_name) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
    and {{ column_name }} not in ({{ time_zone_names() }})

{% endtest %}
