"""Benchmark photos for bench/compare.py, made at bench time with Pillow (never committed):
a receipt on a table, photographed, with sensor noise; and 100-megapixel scans (colour PNG,
1-bit BMP, grey PNG, grey one-component JPEG)."""

import random

from PIL import Image, ImageChops, ImageDraw


def scene(w, h, seed=1):
    """Colour gradients (a table), a paper with lines of dark marks (a receipt)."""
    g = Image.linear_gradient("L").resize((w, h))
    r = Image.radial_gradient("L").resize((w, h))
    base = Image.merge("RGB", (g, r, g.point(lambda v: 255 - v)))
    base = Image.blend(base, Image.new("RGB", (w, h), (150, 120, 90)), 0.5)
    d = ImageDraw.Draw(base)
    px0, py0, px1, py1 = w // 5, h // 10, w * 4 // 5, h * 9 // 10
    d.rectangle((px0, py0, px1, py1), fill=(235, 233, 228))
    rng = random.Random(seed)
    lh = max(4, h // 60)
    y = py0 + h // 40
    while y < py1 - lh:
        x = px0 + w // 40
        while x < px1 - w // 40:
            cw = rng.randint(lh // 2, lh)
            if rng.random() < 0.85:
                d.rectangle((x, y, x + cw - 1, y + lh * 2 // 3), fill=(40, 40, 45))
            x += cw + lh // 3
        y += lh * 3 // 2
    return base, rng


def photo(w, h, noise, seed=1):
    """The scene with uniform sensor noise of +-noise levels in each channel."""
    base, rng = scene(w, h, seed)
    bands = [Image.frombytes("L", (w, h), rng.randbytes(w * h)).point(
        lambda v: 128 - noise + v * 2 * noise // 255) for _ in range(3)]
    return ImageChops.add(base, Image.merge("RGB", bands), 1.0, -128)


def save_jpeg(img, path, quality, orientation=1):
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.save(path, quality=quality, subsampling="4:2:0", exif=exif.tobytes())


def make(directory):
    """The photos and scans, as {label: path}."""
    out = {}
    p = f"{directory}/phone-4032x3024.jpg"  # a phone held upright: EXIF orientation 6
    save_jpeg(photo(4032, 3024, 48), p, 96, orientation=6)
    out["4032x3024 phone JPEG"] = p
    p = f"{directory}/photo-8000x6000.jpg"
    save_jpeg(photo(8000, 6000, 30), p, 95)
    out["8000x6000 JPEG"] = p
    p = f"{directory}/photo-10000x10000.jpg"
    save_jpeg(photo(10000, 10000, 8), p, 90)
    out["10000x10000 JPEG"] = p
    page, _ = scene(10000, 10000, 2)
    p = f"{directory}/scan-10000x10000.png"
    page.save(p, compress_level=6)
    out["10000x10000 PNG"] = p
    p = f"{directory}/scan-10000x10000.bmp"
    page.convert("L").point(lambda v: 255 if v > 128 else 0).convert("1").save(p)
    out["10000x10000 BMP (1 bit)"] = p
    grey = page.convert("L")
    p = f"{directory}/scan-grey-10000x10000.png"
    grey.save(p, compress_level=6)
    out["10000x10000 grey PNG"] = p
    p = f"{directory}/scan-grey-10000x10000.jpg"
    grey.save(p, quality=90)
    out["10000x10000 grey JPEG"] = p
    return out
