#!/usr/bin/env python3
"""Make the small test fixtures shared by every suite, reproducibly (stdlib only).

Images are generated; the two provider answers are the examples printed in the
specification documents (../shared/seeds), extracted verbatim when those are present.

    python3 scripts/make_fixtures.py [--check]

--check regenerates into memory and fails if a committed fixture differs.
"""
import gzip
import hashlib
import json
import os
import struct
import sys
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures")
SEEDS = os.path.join(ROOT, "..", "shared", "seeds")


def png(width, height, pixel=lambda x, y: (255, 255, 255)):
    """A real, decodable 8-bit RGB PNG."""
    raw = bytearray()
    for y in range(height):
        raw.append(0)  # filter: none
        for x in range(width):
            raw.extend(pixel(x, y))

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b""))


def bmp(width, height):
    """A real 24-bit BMP (bottom-up rows padded to 4 bytes)."""
    row = (width * 3 + 3) & ~3
    pixels = b"".join(bytes([200, 200, 200] * width) + b"\0" * (row - width * 3)
                      for _ in range(height))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
    dib = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return header + dib + pixels


def jpeg_header_only(width, height):
    """JPEG markers with a real SOF0 frame header (what preflight reads) and no scan data.
    Enough for every check piaoju and its sandbox make; not a decodable picture."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


def pdf():
    return (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\n"
            b"trailer<</Root 1 0 R>>\n%%EOF\n")


def seed_json(name, start_marker, end_marker):
    path = os.path.join(SEEDS, name)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    i = text.index(start_marker) + len(start_marker)
    j = text.index(end_marker, i)
    body = text[i:j].strip()
    value = json.loads(body)
    return (json.dumps(value, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def signature_vectors():
    """Expected ChinaUMS signatures, computed here with hashlib/hmac (independently of the Rust
    code they test): line 1 the token signature, line 2 the body signature."""
    import base64, hashlib, hmac
    app_id, ts, nonce, key = b"app1", b"20250522101530", b"0123456789abcdef0123456789abcdef", b"key1"
    token = hashlib.sha256(app_id + ts + nonce + key).hexdigest()
    body_hash = hashlib.sha256(b'{"picBase64":"AAAA"}').hexdigest().encode()
    body = base64.b64encode(hmac.new(key, app_id + ts + nonce + body_hash, hashlib.sha256).digest()).decode()
    return (token + "\n" + body + "\n").encode()


def fixtures():
    out = {
        # A receipt-like picture: light grey with dark "lines", 96x160.
        "receipt.png": png(96, 160, lambda x, y: (30, 30, 30) if y % 16 < 2 and 8 < x < 88 else (235, 235, 235)),
        "receipt.bmp": bmp(40, 30),
        "receipt.jpg": jpeg_header_only(120, 200),
        "invoice.png": png(160, 96, lambda x, y: (200, 40, 40) if (x - 130) ** 2 + (y - 30) ** 2 < 200 else (250, 250, 245)),
        "invoice.pdf": pdf(),
        "too_small.png": png(14, 40),
        "too_wide.png": png(4097, 16),
        "not_an_image.gif": b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        "empty.png": b"",
        "signature_vectors.txt": signature_vectors(),
        # 20 MiB of zeros as gzip (mtime 0: reproducible): the sandbox's gzip-bomb answer.
        "bomb.gz": gzip.compress(bytes(20 << 20), compresslevel=9, mtime=0),
    }
    if os.path.isdir(SEEDS):
        out["juhe_receipt_answer.json"] = seed_json("000_8f771194fd409b12.txt", "JSON返回示例：", "2、错误码参照\n\n服务级")
        out["chinaums_invoice_answer.json"] = seed_json("003_dc527f8bc29c4f91.txt", "响应示例", "应答码\n")
    return out


# The provider answers as extracted from the specification documents, by SHA-256: without the
# documents beside the repository (../shared/seeds), --check still verifies them against this.
SEED_ANSWER_SHA256 = {
    "juhe_receipt_answer.json": "5504619a618c76a7e6c5babfb0f7953f29f8650b2bcd97f04843298c723b2446",
    "chinaums_invoice_answer.json": "44c955699ec8d64122d3599fa053521f90f997b899bf3706eedb9f90d32141fe",
}


def main():
    check = "--check" in sys.argv[1:]
    os.makedirs(OUT, exist_ok=True)
    bad = []
    made = fixtures()
    for name, digest in SEED_ANSWER_SHA256.items():
        if name in made:
            if hashlib.sha256(made[name]).hexdigest() != digest:
                sys.exit(f"{name}: the specification's example changed; update SEED_ANSWER_SHA256")
        elif check:
            with open(os.path.join(OUT, name), "rb") as f:
                if hashlib.sha256(f.read()).hexdigest() != digest:
                    bad.append(name)
    for name, data in sorted(made.items()):
        path = os.path.join(OUT, name)
        if check:
            with open(path, "rb") as f:
                if f.read() != data:
                    bad.append(name)
        else:
            with open(path, "wb") as f:
                f.write(data)
    if bad:
        sys.exit("fixtures differ from scripts/make_fixtures.py: " + ", ".join(bad))
    seeds = "extracted from the specification documents" if os.path.isdir(SEEDS) else "checked by their recorded SHA-256"
    print(("checked" if check else "wrote") + f" {len(made)} fixtures in {OUT}; the {len(SEED_ANSWER_SHA256)} provider answers {seeds}")


if __name__ == "__main__":
    main()
