{#
    A plain table over int_campaign_recipients_responded (a few rows per campaign). A
    recipient converts when they respond (METRICS.md, Incremental effect): a counted order,
    with or without the code, in their window, so control is measured as A and B are.
#}
with

recipients as (select * from {{ ref('int_campaign_recipients_responded') }}),

variant_totals as (

    select
        campaign_id,
        website_id,
        variant,
        count(*) as recipients,
        sum(case when has_responded then 1 else 0 end) as converters,
        sum(responding_orders) as responding_orders,
        sum(responding_revenue) as responding_revenue
    from recipients
    group by campaign_id, website_id, variant

),

{#- Each variant beside its campaign's control group. -#}
compared as (

    select
        variant_totals.*,
        control.recipients as control_recipients,
        control.converters as control_converters
    from variant_totals
    left join variant_totals as control
        on variant_totals.campaign_id = control.campaign_id
        and control.variant = 'control'
        and variant_totals.variant <> 'control'

),

{#- Two-proportion z statistic with the pooled proportion (doubles: a test statistic). -#}
tested as (

    select
        compared.*,
        cast(compared.converters + compared.control_converters as {{ type_double() }})
        / (compared.recipients + compared.control_recipients) as pooled_rate,
        (
            cast(compared.converters as {{ type_double() }}) / compared.recipients
            - cast(compared.control_converters as {{ type_double() }}) / compared.control_recipients
        ) as rate_difference
    from compared

),

scored as (

    select
        tested.*,
        case
            when tested.pooled_rate > 0 and tested.pooled_rate < 1
                then tested.rate_difference / sqrt(
                        tested.pooled_rate * (1 - tested.pooled_rate)
                        * (1.0 / tested.recipients + 1.0 / tested.control_recipients)
                    )
        end as z_score
    from tested

),

final as (

    select
        campaign_id,
        website_id,
        cast(variant as {{ dbt.type_string() }}) as variant,
        cast(recipients as {{ dbt.type_bigint() }}) as recipients,
        cast(converters as {{ dbt.type_bigint() }}) as converters,
        {{ pct('converters', 'recipients') }} as conversion_rate,
        cast(responding_orders as {{ dbt.type_bigint() }}) as responding_orders,
        cast(responding_revenue as {{ type_decimal(18, 2) }}) as responding_revenue,
        {{ money_ratio('responding_revenue', 'recipients') }} as revenue_per_recipient,
        cast({{ decimal_div(
            '(converters * control_recipients - control_converters * recipients) * 100',
            'control_converters * recipients', 2) }} as {{ type_decimal(18, 2) }}) as lift_over_control,
        cast(round(z_score, 4) as {{ type_double() }}) as z_score,
        round({{ two_sided_p_value('z_score') }}, 6) as p_value
    from scored

)

select * from final
