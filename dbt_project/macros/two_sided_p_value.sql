{#
    Two-sided p-value of a standard normal statistic z: P(|Z| >= |z|) = erfc(|z| / sqrt 2).
    No SQL engine we target has erf or a normal CDF built in, so erfc comes from
    Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7), in plain arithmetic that
    every engine has. A DOUBLE: p-values are the one place floats are fine. Pass a column
    name, not a long expression: it is repeated.
#}
{% macro two_sided_p_value(z) -%}
    {%- set x = '(abs(' ~ z ~ ') / sqrt(2.0))' -%}
    {%- set t = '(1.0 / (1.0 + 0.3275911 * ' ~ x ~ '))' -%}
    cast(
        {{ t }} * (0.254829592 + {{ t }} * (-0.284496736 + {{ t }} * (1.421413741
        + {{ t }} * (-1.453152027 + {{ t }} * 1.061405429))))
        * exp(-{{ x }} * {{ x }})
        as {{ type_double() }}
    )
{%- endmacro %}
