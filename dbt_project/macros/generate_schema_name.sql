{#
    Custom schema names are used verbatim (`staging`, not `main_staging`): the warehouse
    has exactly the schemas raw, staging, intermediate and marts (DESIGN.md).
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
