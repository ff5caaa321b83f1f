{#
    PII (email, phone, names) stays in staging: no column of a mart may carry it, unless
    hashed (a name ending in _hash). Returns the offending mart columns.
#}
-- depends_on: {{ ref('dim_customers') }}
select
    table_name,
    column_name
from information_schema.columns
where table_schema = 'marts'
    and (
        column_name in ('email', 'phone', 'first_name', 'last_name', 'full_name', 'provider_reference')
        or column_name like '%email%' and column_name not like '%\_hash' escape '\'
        or column_name like '%phone%' and column_name not like '%\_hash' escape '\'
    )
