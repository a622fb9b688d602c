#!/usr/bin/env python3
"""Writes small PDFs with known text and pictures, for tests, the demo and benchmarks.

No PDF library is needed (none is installed here): the writer emits PDF 1.4 by hand - one
Helvetica font (WinAnsi, so Latin-1 text only), text lines placed at known positions, and RGB
pictures as Flate-compressed image XObjects drawn into known boxes. What each page says and
where each picture sits is therefore known by construction, which is what the end-to-end
tests assert against. Coordinates are PDF points from the page's top-left corner, y down (the
convention of iris's PDF module), converted to PDF's bottom-left origin on output.

  tools/make_pdf.py --out manual.pdf --pages 1200        a long text-only manual
  tools/make_pdf.py --out demo.pdf --demo IMAGES_DIR      text pages + figures from IMAGES_DIR

As a module: Pdf(title).page(w, h).text(x, y, size, s) / .image(pil_image, x0, y0, x1, y1).
"""
import argparse
import os
import sys
import zlib


def _escape(s):
    b = s.encode("cp1252", errors="replace")
    return b.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


class Page:
    def __init__(self, width, height):
        self.width, self.height = width, height
        self.ops = []      # content stream pieces (bytes)
        self.images = []   # (name, width, height, rgb bytes)

    def text(self, x, y, size, s):
        """One line of text with its baseline at (x, y), y measured from the top."""
        self.ops.append(b"BT /F1 %g Tf %g %g Td (" % (size, x, self.height - y) + _escape(s) +
                        b") Tj ET\n")
        return self

    def paragraph(self, x, y, size, words, width_chars=80, leading=1.3):
        """Wraps text into lines of about width_chars characters; returns the next y."""
        line = ""
        for w in words.split():
            if line and len(line) + 1 + len(w) > width_chars:
                self.text(x, y, size, line)
                y += size * leading
                line = w
            else:
                line = (line + " " + w).strip()
        if line:
            self.text(x, y, size, line)
            y += size * leading
        return y

    def image(self, img, x0, y0, x1, y1):
        """Draws a PIL image into the box (x0, y0)-(x1, y1), y from the top."""
        rgb = img.convert("RGB")
        name = b"Im%d" % (len(self.images) + 1)
        self.images.append((name, rgb.width, rgb.height, rgb.tobytes()))
        self.ops.append(b"q %g 0 0 %g %g %g cm /%s Do Q\n" %
                        (x1 - x0, y1 - y0, x0, self.height - y1, name))
        return self


class Pdf:
    def __init__(self, title=None):
        self.title = title
        self.pages = []

    def page(self, width=612, height=792):
        p = Page(width, height)
        self.pages.append(p)
        return p

    def save(self, path):
        objs = []  # index i holds object i + 1

        def add(body):
            objs.append(body)
            return len(objs)

        catalog = add(None)
        pages = add(None)
        font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
                   b"/Encoding /WinAnsiEncoding >>")
        kids = []
        for p in self.pages:
            xobjs = b""
            for name, w, h, data in p.images:
                z = zlib.compress(data, 6)
                ref = add(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d "
                          b"/ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /FlateDecode "
                          b"/Length %d >>\nstream\n" % (w, h, len(z)) + z + b"\nendstream")
                xobjs += b"/%s %d 0 R " % (name, ref)
            content = zlib.compress(b"".join(p.ops), 6)
            cref = add(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) +
                       content + b"\nendstream")
            res = b"<< /Font << /F1 %d 0 R >> /XObject << %s>> >>" % (font, xobjs)
            kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %g %g] "
                            b"/Resources %s /Contents %d 0 R >>" %
                            (pages, p.width, p.height, res, cref)))
        objs[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages
        objs[pages - 1] = (b"<< /Type /Pages /Kids [" +
                           b" ".join(b"%d 0 R" % k for k in kids) +
                           b"] /Count %d >>" % len(kids))
        info = add(b"<< /Title (" + _escape(self.title) + b") >>") if self.title else None
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for i, body in enumerate(objs):
            offsets.append(len(out))
            out += b"%d 0 obj\n" % (i + 1) + body + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
        for off in offsets:
            out += b"%010d 00000 n \n" % off
        out += b"trailer\n<< /Size %d /Root %d 0 R" % (len(objs) + 1, catalog)
        if info:
            out += b" /Info %d 0 R" % info
        out += b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
        with open(path, "wb") as f:
            f.write(out)


TOPICS = ["installation", "maintenance", "safety", "troubleshooting", "warranty", "cleaning",
          "storage", "transport", "calibration", "accessories"]


def long_manual(path, n_pages, title="Generated manual"):
    """n_pages of text, each page naming its number and a topic, so any page can be asked for."""
    pdf = Pdf(title)
    for i in range(n_pages):
        p = pdf.page(612, 792)
        topic = TOPICS[i % len(TOPICS)]
        p.text(72, 72, 16, "Chapter %d: %s" % (i + 1, topic))
        body = ("This page explains %s for part number %d. " % (topic, 1000 + i)) * 12
        p.paragraph(72, 110, 11, body)
    pdf.save(path)


def demo_document(path, image_paths):
    """A short illustrated document: text pages and one figure per given image."""
    pdf = Pdf("Shapes field guide")
    p = pdf.page()
    p.text(72, 80, 20, "A field guide to coloured shapes")
    p.paragraph(72, 120, 12, "This guide describes circles, squares, triangles, stars, hearts and "
                "crosses in many colours. Each figure shows one kind of shape. Red circles are "
                "round; blue squares have four equal sides; green triangles have three corners.")
    from PIL import Image
    for k, img_path in enumerate(image_paths):
        p = pdf.page()
        p.text(72, 80, 14, "Figure %d: %s" % (k + 1, os.path.basename(img_path)))
        with Image.open(img_path) as im:
            p.image(im, 72, 100, 72 + 300, 100 + 300)
    pdf.save(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--pages", type=int, help="write a long text-only manual of this many pages")
    ap.add_argument("--demo", metavar="IMAGES_DIR", help="illustrated document with these images")
    ap.add_argument("--figures", type=int, default=3, help="images to take from IMAGES_DIR")
    a = ap.parse_args()
    if a.pages:
        long_manual(a.out, a.pages)
    elif a.demo:
        imgs = sorted(os.path.join(a.demo, f) for f in os.listdir(a.demo)
                      if f.lower().endswith((".png", ".jpg", ".jpeg")))[:a.figures]
        demo_document(a.out, imgs)
    else:
        ap.error("give --pages N or --demo IMAGES_DIR")
    return 0


if __name__ == "__main__":
    sys.exit(main())
