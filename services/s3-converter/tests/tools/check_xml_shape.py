#!/usr/bin/env python3
"""Independent cross-check of s3-converter's XML shape (the seed's approach: json + xml.etree).

Builds the expected tree from the JSON with Python's json module and xml.etree, with the seed's list
item names, then checks the converter's XML (1) parses, (2) equals the expected tree element by element
(tags, text, order), and (3) equals ElementTree's own two-space-indented serialization of the
expected tree, byte for byte (after the only allowed differences: we write <a/> for ET's <a />, and we
escape " and ' in text, which ET leaves bare). Prints OK or the first difference; exit 1 on a difference.

usage: check_xml_shape.py input.json output.xml
"""
import json
import sys
import xml.etree.ElementTree as ET

ITEM_NAMES = {"countryOfOrigin": "entry", "itemSellingPrices": "price", "itemGrossPrices": "price",
              "fabricCompositions": "composition"}
DEFAULT_ITEM = "item"


def text_of(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)  # numbers were kept as their source text (parse_float/parse_int=str)


def add(parent, name, value, item_name):
    el = ET.SubElement(parent, name)
    if isinstance(value, dict):
        for k, v in value.items():
            add(el, k, v, ITEM_NAMES.get(k, DEFAULT_ITEM))
    elif isinstance(value, list):
        for v in value:
            add(el, item_name, v, DEFAULT_ITEM)
    else:
        el.text = text_of(value)


def expected_tree(data):
    root = ET.Element("products")
    for obj in data:
        product = ET.SubElement(root, "product")
        for k, v in obj.items():
            add(product, k, v, ITEM_NAMES.get(k, DEFAULT_ITEM))
    return root


def compare(a, b, path):
    if a.tag != b.tag:
        return f"{path}: tag {a.tag!r} != {b.tag!r}"
    ta, tb = (a.text or "").strip() if len(a) else (a.text or ""), (b.text or "").strip() if len(b) else (b.text or "")
    if ta != tb:
        return f"{path}/{a.tag}: text {ta!r} != {tb!r}"
    if len(a) != len(b):
        return f"{path}/{a.tag}: {len(a)} children != {len(b)}"
    for i, (ca, cb) in enumerate(zip(a, b)):
        d = compare(ca, cb, f"{path}/{a.tag}[{i}]")
        if d:
            return d
    return None


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        data = json.load(f, parse_float=str, parse_int=str)
    with open(sys.argv[2], encoding="utf-8") as f:
        ours = f.read()
    expected = expected_tree(data)
    got = ET.fromstring(ours.encode("utf-8"))
    d = compare(expected, got, "")
    if d:
        print("tree differs:", d)
        return 1
    ET.indent(expected, space="  ")
    text = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(expected, encoding="unicode") + "\n"
    text = text.replace(" />", "/>")
    normalized = ours.replace("&quot;", '"').replace("&apos;", "'")
    if text != normalized:
        for i, (x, y) in enumerate(zip(text.splitlines(), normalized.splitlines())):
            if x != y:
                print(f"serialization differs at line {i + 1}: expected {x!r}, got {y!r}")
                return 1
        print("serialization differs in length")
        return 1
    print(f"OK: {len(got)} products, {sum(1 for _ in got.iter())} elements")
    return 0


if __name__ == "__main__":
    sys.exit(main())
