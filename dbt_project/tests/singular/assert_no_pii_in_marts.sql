{#
    PII (email, phone, names) stays in staging: no column of a mart may carry it, unless
    hashed (a name ending in _hash). Returns the offending mart columns. The LIKE escape is
    `!`: a backslash would open an escape in Spark's string literals.
#}
-- depends_on: {{ ref('dim_customers') }}
-- depends_on: {{ ref('dim_websites') }}
-- depends_on: {{ ref('fct_customer_order_days') }}
with

mart_columns as (
    {{ schema_columns('marts') }}
),

final as (

    select
        table_name,
        column_name
    from mart_columns
    where
        column_name in ('email', 'phone', 'first_name', 'last_name', 'full_name', 'provider_reference')
        or column_name like '%email%' and column_name not like '%!_hash' escape '!'
        or column_name like '%phone%' and column_name not like '%!_hash' escape '!'

)

select * from final
