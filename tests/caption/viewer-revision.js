// SPDX-License-Identifier: LGPL-2.1-or-later
// The viewer page's script (its file is the first argument) against a minimal DOM of
// our own, fed the messages of docs/caption-server.md: a revision takes the place of
// its publisher's lines that start in its stretch (another publisher's stay), and one
// of a gap goes before the publisher's first line after it; interim text is one line
// per publisher until its final. Exits 1 on a mismatch.
"use strict";
const fs = require("fs");
const vm = require("vm");

class El {
  constructor(tag) {
    this.tag = tag;
    this.children = [];
    this.dataset = {};
    this.parentNode = null;
    this.text = "";
    this.className = "";
  }
  get childElementCount() { return this.children.length; }
  get firstElementChild() { return this.children[0]; }
  appendChild(c) {
    c.remove();
    c.parentNode = this;
    this.children.push(c);
    return c;
  }
  insertBefore(c, ref) {
    c.remove();
    const i = this.children.indexOf(ref);
    c.parentNode = this;
    this.children.splice(i < 0 ? this.children.length : i, 0, c);
    return c;
  }
  remove() {
    if (!this.parentNode)
      return;
    const siblings = this.parentNode.children;
    siblings.splice(siblings.indexOf(this), 1);
    this.parentNode = null;
  }
  set textContent(t) { this.text = t; this.children = []; }
  get textContent() { return this.text + this.children.map((c) => c.textContent).join(""); }
}

const els = {};
let sock = null;
const context = {
  document: {
    getElementById: (id) => els[id] || (els[id] = new El(id)),
    createElement: (tag) => new El(tag),
    createTextNode: (t) => { const e = new El("#text"); e.text = t; return e; },
  },
  location: { pathname: "/rooms/demo", search: "" },
  navigator: { onLine: true },
  window: { addEventListener() {} },
  WebSocket: function () { sock = this; },
  URLSearchParams,
  setTimeout: () => 1,
  clearTimeout() {},
  console,
};
vm.runInNewContext(fs.readFileSync(process.argv[2], "utf8"), context);

function send(m) { sock.onmessage({ data: JSON.stringify(m) }); }
function final(id, publisher, text, start) {
  send({ type: "final", id, publisher, seq: id, text, start, end: start + 0.4, time: 0 });
}
function revision(id, publisher, text, start, end) {
  send({ type: "revision", id, publisher, seq: id, text, start, end, words: [], time: 0 });
}

send({ type: "welcome", room: "demo", last_id: 0 });
final(1, "cam", "one", 1);
final(2, "cam", "two", 2);
final(3, "cam", "tree", 3);
final(4, "cam", "for", 4);
final(5, "other", "aside", 3.5);
final(6, "cam", "five", 5);
revision(7, "cam", "three four", 3, 5);
final(8, "cam", "ten", 10);
revision(9, "cam", "seven eight", 7, 9);
revision(9, "cam", "seen twice", 7, 9);

// Interim text: one line per publisher, replaced in place, dropped by the next final.
send({ type: "interim", publisher: "cam", text: "elev", start: 11, end: 11.2, time: 0 });
send({ type: "interim", publisher: "cam", text: "eleven", start: 11, end: 11.4, time: 0 });
const interim = JSON.stringify(els.interims.children.map((p) => p.textContent));
if (interim !== JSON.stringify(["cam:eleven"])) {
  console.error("interim lines " + interim);
  process.exit(1);
}
final(10, "cam", "eleven", 11);
if (els.interims.children.length !== 0) {
  console.error("the final left its interim line");
  process.exit(1);
}

const got = JSON.stringify(els.transcript.children.map((p) => p.textContent));
const want = JSON.stringify(["one", "two", "cam:three four", "other:aside", "cam:five",
  "cam:seven eight", "cam:ten", "cam:eleven"]);
if (got !== want) {
  console.error("lines " + got + ", not " + want);
  process.exit(1);
}
