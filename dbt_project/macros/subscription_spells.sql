{#
    The spells of `relation` per `keys` (e.g. a subscriber, or a subscriber and a plan):
    its intervals (from_column, to_column] merged where they overlap or touch, a NULL end
    meaning still running. Returns `select <keys>, spell_from, spell_to`. A spell counts
    once however many subscriptions it holds, so running +1/-1 sums over spells count
    distinct subscribers without a subscriber x day join.
    Gaps and islands: a row opens a new spell when every earlier row (by start) ended
    before it starts.
#}
{% macro subscription_spells(relation, keys, from_column, to_column) -%}
    {%- set partition = keys | join(', ') -%}
    select
        {% for key in keys %}{{ key }},
        {% endfor %}min({{ from_column }}) as spell_from,
        case
            when max(case when {{ to_column }} is null then 1 else 0 end) = 1 then null
            else max({{ to_column }})
        end as spell_to
    from (
        select
            ordered.*,
            sum(ordered.opens_spell) over (
                partition by {{ partition }}
                order by ordered.{{ from_column }}, ordered.{{ to_column }}
                rows between unbounded preceding and current row
            ) as spell_number
        from (
            select
                {% for key in keys %}{{ key }},
                {% endfor %}{{ from_column }},
                {{ to_column }},
                case
                    when max(case when {{ to_column }} is null then 1 else 0 end) over earlier = 1 then 0
                    when {{ from_column }} <= max({{ to_column }}) over earlier then 0
                    else 1
                end as opens_spell
            from {{ relation }}
            window earlier as (
                partition by {{ partition }}
                order by {{ from_column }}, {{ to_column }}
                rows between unbounded preceding and 1 preceding
            )
        ) as ordered
    ) as numbered
    group by {% for key in keys %}{{ key }}, {% endfor %}spell_number
{%- endmacro %}
