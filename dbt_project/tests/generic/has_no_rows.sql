{#
    A guard: fails with every row of the model. With `message_column`, each row's message
    is also written to the run's log (dbt prints no failing rows), so the refusal says
    what happened and what to do where the operator reads it.
#}
{% test has_no_rows(model, message_column=none) %}

{%- if execute and message_column -%}
    {%- set relation = adapter.get_relation(model.database, model.schema, model.identifier) -%}
    {%- if relation is not none -%}
        {%- set found = run_query('select ' ~ message_column ~ ' from ' ~ relation) -%}
        {%- for row in found.rows -%}
            {{ log('mealytics: ' ~ row[0], info=True) }}
        {%- endfor -%}
    {%- endif -%}
{%- endif %}

select *
from {{ model }}

{% endtest %}
