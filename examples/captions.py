#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Live captions from any audio file or URI with sttsink, in Python (PyGObject).

    examples/captions.py FILE-OR-URI [--provider vosk] [--url ws://127.0.0.1:2700]

Prints each partial transcript in place and each final with its times, from the
`transcript` signal of sttsink (emitted on the element's I/O thread: hand the data to
your own thread or main loop; here we only print). Keys for cloud providers come from
--api-key-file or the environment (DEEPGRAM_API_KEY, STT_API_KEY...).
Debian packages: python3-gi gir1.2-gstreamer-1.0.
"""
import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402


def fmt(ns):
    if ns is None or ns == Gst.CLOCK_TIME_NONE:
        return "--:--.--"
    s = ns / Gst.SECOND
    return "%02d:%05.2f" % (s // 60, s % 60)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source")
    ap.add_argument("--provider", default=None)
    ap.add_argument("--url", default=None)
    ap.add_argument("--api-key-file", default=None)
    args = ap.parse_args()

    Gst.init(None)
    uri = args.source if Gst.uri_is_valid(args.source) else Gst.filename_to_uri(args.source)
    pipeline = Gst.parse_launch(
        f'uridecodebin uri="{uri}" ! audioconvert ! audioresample ! sttsink name=stt')
    stt = pipeline.get_by_name("stt")
    for prop, value in (("provider", args.provider), ("url", args.url),
                        ("api-key-file", args.api_key_file)):
        if value:
            stt.set_property(prop, value)

    tty = sys.stdout.isatty()

    def on_transcript(_sink, s):
        text = s.get_string("text")
        if s.get_value("is-final"):
            pts, dur = s.get_value("pts"), s.get_value("duration")
            end = pts + dur if pts != Gst.CLOCK_TIME_NONE else None
            print(("\r\033[K" if tty else "") + f"[{fmt(pts)} --> {fmt(end)}] {text}",
                  flush=True)
        elif tty:
            print(f"\r\033[K  ... {text}", end="", flush=True)

    stt.connect("transcript", on_transcript)

    loop = GLib.MainLoop()
    status = 0

    def on_message(_bus, msg):
        nonlocal status
        if msg.type == Gst.MessageType.ERROR:
            err, _dbg = msg.parse_error()
            print(f"Error: {err.message}", file=sys.stderr)
            status = 1
            loop.quit()
        elif msg.type == Gst.MessageType.EOS:
            loop.quit()
        elif msg.type == Gst.MessageType.ELEMENT:
            s = msg.get_structure()
            if s.get_name() == "stt-connection" and s.get_string("state") == "reconnecting":
                print(f"(reconnecting: {s.get_string('reason')})", file=sys.stderr)

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    pipeline.set_state(Gst.State.PLAYING)
    try:
        loop.run()
    finally:
        pipeline.set_state(Gst.State.NULL)
    return status


if __name__ == "__main__":
    sys.exit(main())
