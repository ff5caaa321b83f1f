{#
    A cross-column rule: fails with the rows for which `expression` is not true (NULL
    counts as a failure unless the expression handles it), e.g.
    `total = subtotal - discount_amount + delivery_fee` on stg_orders.
#}
{% test expression_is_true(model, expression) %}

select *
from {{ model }}
where not coalesce(({{ expression }}), false)

{% endtest %}
