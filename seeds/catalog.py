"""Reference data of the demo business: websites, menus, plans, rewards, names.

Money here is in hundredths of the website's currency (the generator's integer form).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Website:
    id: int
    name: str
    domain: str
    currency: str
    timezone: str
    utc_offset_hours: int  # neither zone observes daylight saving time
    share: float  # of customers
    unit: int  # the smallest amount prices are rounded to, in hundredths
    points_per: int  # currency hundredths per loyalty point earned on the subtotal
    delivery_fees: tuple[int, ...]
    referral_bonus: int
    mobile_methods: tuple[float, float, float, float]  # cash, mtn, airtel, bank


WEBSITES = (
    Website(
        1, "Mealytics Kampala", "kampala.mealytics.example", "UGX", "Africa/Kampala", 3,
        0.7, 50_000, 500_00, (2_000_00, 3_000_00, 5_000_00), 5_000_00,
        (0.28, 0.45, 0.20, 0.07),
    ),
    Website(
        2, "Mealytics Lagos", "lagos.mealytics.example", "NGN", "Africa/Lagos", 1,
        0.3, 1, 100_00, (499_99, 750_00, 1_250_50), 1_500_00,
        (0.35, 0.15, 0.10, 0.40),
    ),
)

# name, category, price in hundredths
MEALS = {
    1: (
        ("Rolex", "Street food", 5_000_00),
        ("Luwombo chicken", "Local", 28_000_00),
        ("Luwombo beef", "Local", 25_000_00),
        ("Matooke & groundnut sauce", "Local", 15_000_00),
        ("Pilau rice", "Local", 18_000_00),
        ("Chicken stew & rice", "Local", 20_000_00),
        ("Beef burger", "Fast food", 22_000_00),
        ("Chicken burger", "Fast food", 21_000_00),
        ("Chips & chicken", "Fast food", 18_500_00),
        ("Pizza margherita", "Pizza", 35_000_00),
        ("Pizza pepperoni", "Pizza", 42_000_00),
        ("Tilapia fry", "Seafood", 38_000_00),
        ("Fish fillet & chips", "Seafood", 30_000_00),
        ("Veggie bowl", "Healthy", 19_000_00),
        ("Grilled chicken salad", "Healthy", 24_000_00),
        ("Fruit salad", "Healthy", 8_000_00),
        ("Beef samosas (4)", "Snacks", 6_000_00),
        ("Chapati (2)", "Snacks", 2_500_00),
        ("Passion juice", "Drinks", 4_000_00),
        ("Mango smoothie", "Drinks", 7_500_00),
        ("African tea", "Drinks", 3_000_00),
        ("Goat stew", "Local", 27_000_00),
        ("Katogo", "Local", 12_000_00),
        ("Family platter", "Platters", 95_000_00),
    ),
    2: (
        ("Jollof rice & chicken", "Local", 4_500_00),
        ("Fried rice & turkey", "Local", 5_250_50),
        ("Pounded yam & egusi", "Local", 4_999_99),
        ("Amala & ewedu", "Local", 3_800_00),
        ("Suya platter", "Grill", 6_500_00),
        ("Asun", "Grill", 5_500_00),
        ("Pepper soup", "Local", 4_200_50),
        ("Moi moi", "Snacks", 1_200_00),
        ("Puff puff (6)", "Snacks", 800_00),
        ("Meat pie", "Snacks", 1_000_00),
        ("Shawarma", "Fast food", 3_500_00),
        ("Chicken burger", "Fast food", 4_800_00),
        ("Pizza pepperoni", "Pizza", 9_999_99),
        ("Ofada rice", "Local", 5_000_00),
        ("Efo riro & semo", "Local", 4_750_25),
        ("Zobo", "Drinks", 700_00),
        ("Chapman", "Drinks", 1_500_00),
        ("Fruit bowl", "Healthy", 2_499_99),
        ("Grilled fish", "Grill", 8_500_00),
        ("Party jollof tray", "Platters", 25_000_00),
    ),
}

# name, price (hundredths), interval, meals per week
PLANS = {
    1: (
        ("Lunch weekly", 90_000_00, "weekly", 5),
        ("Family weekly", 220_000_00, "weekly", 10),
        ("Lunch monthly", 340_000_00, "monthly", 5),
    ),
    2: (
        ("Lunch weekly", 20_000_00, "weekly", 5),
        ("Healthy monthly", 75_000_50, "monthly", 5),
    ),
}

# name, category, item_type, points_required, value (hundredths of the website currency)
REWARDS = {
    1: (
        ("Free passion juice", "Drinks", "free_meal", 150, 4_000_00),
        ("UGX 1,000 wallet credit", "Cash", "wallet_credit", 200, 1_000_00),
        ("UGX 2,000 wallet credit", "Cash", "wallet_credit", 500, 2_000_00),
        ("UGX 5,000 wallet credit", "Cash", "wallet_credit", 1_200, 5_000_00),
        ("UGX 10,000 discount code", "Discounts", "discount_code", 2_000, 10_000_00),
        ("UGX 3,000 discount code", "Discounts", "discount_code", 700, 3_000_00),
        ("Free Rolex", "Meals", "free_meal", 1_000, 5_000_00),
        ("Free Luwombo", "Meals", "free_meal", 4_000, 28_000_00),
        ("Mealytics T-shirt", "Merchandise", "merchandise", 6_000, 25_000_00),
        ("Insulated lunch bag", "Merchandise", "merchandise", 9_000, 40_000_00),
    ),
    2: (
        ("Free zobo", "Drinks", "free_meal", 120, 700_00),
        ("NGN 250 wallet credit", "Cash", "wallet_credit", 200, 250_00),
        ("NGN 500 wallet credit", "Cash", "wallet_credit", 500, 500_00),
        ("NGN 1,000 discount code", "Discounts", "discount_code", 900, 1_000_00),
        ("NGN 2,500 discount code", "Discounts", "discount_code", 2_000, 2_500_00),
        ("Free Jollof", "Meals", "free_meal", 3_500, 4_500_00),
        ("Mealytics cap", "Merchandise", "merchandise", 5_000, 6_000_00),
    ),
}

# Retired rewards: items withdrawn from the catalogue (is_active false), kept because past
# redemptions point at them; never offered again. Written after REWARDS, so the active items
# keep their ids. A wallet credit among them shows that the points liability values points
# by the active wallet credits only (METRICS.md, VIP and loyalty effects).
RETIRED_REWARDS = {
    1: (("UGX 500 wallet credit", "Cash", "wallet_credit", 150, 500_00),),
    2: (),
}

VIP_DISCOUNT_PERCENT = {"silver": 5, "gold": 10, "platinum": 15}
# Price of a tier in hundredths, per website.
VIP_PRICES = {
    1: {"silver": 50_000_00, "gold": 120_000_00, "platinum": 250_000_00},
    2: {"silver": 10_000_00, "gold": 25_000_00, "platinum": 50_000_50},
}
VIP_TERM_DAYS = 120

FIRST_NAMES = {
    1: (
        "Aisha", "Brian", "Catherine", "Daniel", "Esther", "Francis", "Grace", "Henry",
        "Irene", "Joseph", "Juliet", "Kenneth", "Lydia", "Moses", "Naomi", "Okello",
        "Patience", "Robert", "Sarah", "Timothy", "Winnie", "Yusuf", "Agnes", "Ronald",
    ),
    2: (
        "Adaeze", "Babajide", "Chiamaka", "Dapo", "Emeka", "Funmilayo", "Gbenga", "Halima",
        "Ifeoma", "Jide", "Kemi", "Lanre", "Musa", "Ngozi", "Olu", "Tunde", "Uche",
        "Yetunde", "Zainab", "Segun", "Bisi", "Chidi",
    ),
}
LAST_NAMES = {
    1: (
        "Nakato", "Mukasa", "Okello", "Namubiru", "Ssempijja", "Atim", "Kato", "Nabirye",
        "Mugisha", "Tumusiime", "Achieng", "Kiggundu", "Namutebi", "Opio", "Byaruhanga",
    ),
    2: (
        "Adeyemi", "Okafor", "Balogun", "Eze", "Ibrahim", "Okonkwo", "Adebayo", "Nwosu",
        "Bello", "Olawale", "Chukwu", "Abubakar", "Ogunleye", "Danjuma",
    ),
}
PHONE_PREFIX = {1: "+2567", 2: "+23480"}

RIDERS = (
    "Ssali", "Wasswa", "Kizza", "Mugenyi", "Odongo", "Lubega", "Ayo", "Femi", "Ikenna",
    "Sani", "Tope", "Kunle",
)
NUTRITIONISTS = ("Dr. Namata", "Dr. Achan", "Dr. Okoro", "Dr. Bakare", "Ms. Kirabo")
SUPPORT_AGENTS = ("Grace", "Moses", "Aisha", "Brian", "Chioma", "Emeka", "Joan")
#: What health profiles say about allergies, with their weights: most have none.
ALLERGIES = (
    ("", 0.68), ("peanuts", 0.08), ("shellfish", 0.05), ("gluten", 0.05), ("lactose", 0.06),
    ("eggs", 0.03), ("peanuts, shellfish", 0.02), ("soy", 0.02), ("gluten, lactose", 0.01),
)
TICKET_CATEGORIES = ("late_delivery", "missing_item", "payment", "refund", "account", "quality")
REFUND_REASONS = ("missing item", "late delivery", "wrong order", "quality complaint")
COMPANIES = (
    "Stanbic Bank", "MTN Uganda", "Airtel Africa", "Makerere University", "Dangote Group",
    "Andela", "Flutterwave", "Jumia", "Kampala Serena", "Interswitch", "UNICEF", "Total",
)
CAMPAIGN_THEMES = (
    "Weekend feast", "Lunch rush", "Back to school", "Payday treat", "New menu launch",
    "Healthy January", "Family Sunday", "Rainy day comfort", "Independence day",
    "Ramadan iftar", "Festive season", "Win-back",
)
