#!/usr/bin/env python3
"""Generates the OLTP sample data set of order-api as CSV files (one per table, header row = columns),
deterministically (same seed, same bytes), for `order-api-seed --data-dir`.

Realistic shape: customers with unique emails, sellers (some best stores), brands, categories, thousands
of products with prices, ratings and sales counts, promotions of both coupon types ('Percentage' and
'Fixed Amount'; product-specific and global; active, expired and future), payments, inventories.
"""
import argparse
import csv
import os
import random

FIRST = ["Anna", "Ben", "Carla", "David", "Emma", "Felix", "Greta", "Hugo", "Ines", "Jonas", "Klara", "Lukas",
         "Mia", "Noah", "Olivia", "Paul", "Quinn", "Rosa", "Sam", "Tara", "Uma", "Victor", "Wanda", "Xaver",
         "Yara", "Zoe", "Aiko", "Bao", "Chiara", "Dmitri", "Eun", "Farah", "Gabriel", "Hana", "Ivan", "José"]
LAST = ["Müller", "Schmidt", "Nguyen", "García", "Rossi", "Kowalski", "Jensen", "O'Brien", "Silva", "Yilmaz",
        "Novak", "Dubois", "Andersen", "Smith", "Tanaka", "Kim", "Ivanova", "Costa", "Fischer", "Weber"]
CATEGORIES = [("Knitwear", "Sweaters, cardigans and pullovers"), ("Shirts", "Casual and formal shirts"),
              ("Trousers", "Chinos, jeans and suit trousers"), ("Outerwear", "Coats and jackets"),
              ("Dresses", "Day and evening dresses"), ("Shoes", "Sneakers, boots and loafers"),
              ("Accessories", "Belts, scarves, hats"), ("Sportswear", "Training and outdoor"),
              ("Underwear", "Basics and socks"), ("Bags", "Backpacks, totes, wallets"),
              ("Swimwear", "Swimsuits and trunks"), ("Nightwear", "Pyjamas and robes"),
              ("Suits", "Blazers and suits"), ("Skirts", "Mini, midi and maxi"), ("T-Shirts", "Tees and tanks"),
              ("Jeans", "Denim"), ("Kids", "Children's clothing"), ("Jewellery", "Rings, necklaces"),
              ("Watches", "Analog and smart"), ("Home", "Textiles for the home")]
BRAND_WORDS = ["Nova", "Velocity", "Urban", "Nordic", "Aurora", "Summit", "Harbor", "Linen & Co", "Matinique",
               "Vila", "Pulse", "Cedar", "Atlas", "Ember", "Lumen", "Orbit", "Sierra", "Tide", "Willow", "Zenith"]
ADJ = ["Classic", "Slim", "Relaxed", "Organic", "Merino", "Recycled", "Vintage", "Essential", "Premium", "Light"]
NOUN = ["Pullover", "Cardigan", "Shirt", "Chino", "Parka", "Sneaker", "Scarf", "Dress", "Blazer", "Tee", "Jeans",
        "Backpack", "Hoodie", "Skirt", "Coat", "Boot"]
COLORS = ["Black", "White", "Navy", "Cream", "Olive", "Grey", "Red", "Camel", "Sky", "Forest"]
PAYMENTS = [("Credit Card", "card"), ("Debit Card", "card"), ("PayPal", "wallet"), ("Bank Transfer", "transfer"),
            ("Cash on Delivery", "cash"), ("Gift Card", "voucher")]


def write(out_dir, table, header, rows):
    with open(os.path.join(out_dir, table + ".csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--products", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)

    write(args.out, "categories", ["id", "name", "description"],
          [(i + 1, n, d) for i, (n, d) in enumerate(CATEGORIES)])
    brands = sorted({f"{a} {b}" if a != b else a for a in BRAND_WORDS for b in ["Apparel", "Style", "Studio"]})
    brands = brands[:60]
    write(args.out, "brands", ["id", "name"], [(i + 1, n) for i, n in enumerate(brands)])
    sellers = []
    for i in range(40):
        name = f"{rnd.choice(BRAND_WORDS)} Store {i + 1}"
        sellers.append((i + 1, name, f"https://shop.example/{i + 1}", "true" if rnd.random() < 0.2 else "false"))
    write(args.out, "sellers", ["id", "name", "link", "is_best_store"], sellers)
    write(args.out, "payments", ["id", "name", "type"], [(i + 1, n, t) for i, (n, t) in enumerate(PAYMENTS)])

    # Promotions: both coupon types; product-specific and global; active (until 2100), expired, future.
    promotions = []
    windows = [("2020-01-01T00:00:00Z", "2100-01-01T00:00:00Z"),   # active
               ("2022-01-01T00:00:00Z", "2023-01-01T00:00:00Z"),   # expired
               ("2099-01-01T00:00:00Z", "2100-01-01T00:00:00Z")]   # future
    for i in range(24):
        coupon = "Percentage" if i % 2 == 0 else "Fixed Amount"
        treatment = rnd.choice([5, 10, 15, 20, 25, 30]) if coupon == "Percentage" else rnd.choice([1, 2, 5, 10])
        begin, end = windows[0] if i < 16 else windows[1 if i < 20 else 2]
        promotions.append((i + 1, f"{'Spring' if i % 3 else 'Member'} deal {i + 1}", "coupon" if i % 4 else "sale",
                           f"{treatment:.2f}", coupon, "false", begin, end))
    promotions.append((25, "Store-wide welcome 5%", "sale", "5.00", "Percentage", "true", *windows[0]))
    promotions.append((26, "Last year's store-wide 10€", "sale", "10.00", "Fixed Amount", "true", *windows[1]))
    write(args.out, "promotions", ["id", "name", "type", "price_treatment", "coupon_type", "is_global",
                                   "promo_begin", "promo_end"], promotions)

    customers = []
    for i in range(args.customers):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        email = f"{first}.{last}.{i + 1}@example.com".lower().replace("'", "").replace(" ", "")
        customers.append((i + 1, first, last, email))
    write(args.out, "customers", ["id", "first_name", "last_name", "email"], customers)

    products, inventories = [], []
    for i in range(args.products):
        price = round(rnd.uniform(4.99, 249.99), 2)
        original = round(price * rnd.choice([1, 1, 1.1, 1.25, 1.5]), 2)
        promo = rnd.randint(1, 24) if rnd.random() < 0.3 else ""
        name = f"{rnd.choice(ADJ)} {rnd.choice(NOUN)} {rnd.choice(COLORS)}"
        products.append((i + 1, name, f"{price:.2f}", f"{original:.2f}", f"{rnd.uniform(2.5, 5):.2f}",
                         rnd.randint(0, 2000), rnd.randint(0, 10000), rnd.randint(1, len(CATEGORIES)),
                         rnd.randint(1, len(sellers)), rnd.randint(1, len(brands)), promo))
        inventories.append((i + 1, rnd.randint(0, 500)))
    write(args.out, "products", ["id", "name", "price", "original_price", "rating_average", "review_count",
                                 "sold_count", "category_id", "seller_id", "brand_id", "promotion_id"], products)
    write(args.out, "inventories", ["product_id", "quantity"], inventories)
    print(f"wrote sample data to {args.out}: {len(customers)} customers, {len(products)} products, "
          f"{len(promotions)} promotions")


if __name__ == "__main__":
    main()
