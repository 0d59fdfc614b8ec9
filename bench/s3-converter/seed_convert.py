#!/usr/bin/env python3
"""The seed's approach, for the benchmark: json.load the whole file, build the tree with xml.etree,
indent it and write it (same shape and list item names as s3-converter). Prints a JSON line with
the timing of load + build + serialize (file reads/writes on local disk included, S3 excluded).

usage: seed_convert.py input.json output.xml
"""
import json
import os
import sys
import time
import xml.etree.ElementTree as ET

ITEM_NAMES = {"countryOfOrigin": "entry", "itemSellingPrices": "price", "itemGrossPrices": "price",
              "fabricCompositions": "composition"}


def add(parent, name, value, item_name):
    el = ET.SubElement(parent, name)
    if isinstance(value, dict):
        for k, v in value.items():
            add(el, k, v, ITEM_NAMES.get(k, "item"))
    elif isinstance(value, list):
        for v in value:
            add(el, item_name, v, "item")
    elif value is not None:
        el.text = str(value)


def main():
    t0 = time.perf_counter()
    with open(sys.argv[1], encoding="utf-8") as f:
        data = json.load(f)
    root = ET.Element("products")
    for obj in data:
        product = ET.SubElement(root, "product")
        for k, v in obj.items():
            add(product, k, v, ITEM_NAMES.get(k, "item"))
    ET.indent(root, space="  ")
    ET.ElementTree(root).write(sys.argv[2], encoding="UTF-8", xml_declaration=True)
    seconds = time.perf_counter() - t0
    size = os.path.getsize(sys.argv[1])
    print(json.dumps({"bytes_in": size, "seconds": seconds, "mb_per_s": size / 1e6 / seconds}))


if __name__ == "__main__":
    main()
