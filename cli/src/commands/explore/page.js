"use strict";
// Clicking a line highlights every line of its function, wasm and machine code, that the
// address map links to the same wasm offset.
(function () {
  var lit = [];
  function select(line) {
    lit.forEach(function (e) { e.classList.remove("hl"); });
    lit = [];
    var func = line.closest("section.func");
    if (!func) return;
    // data-w holds a number the page was written with; it is safe in a selector.
    var same = func.querySelectorAll('[data-w="' + line.getAttribute("data-w") + '"]');
    same.forEach(function (e) { e.classList.add("hl"); lit.push(e); });
    var other = func.querySelector((line.classList.contains("m") ? ".w" : ".m") + ".hl");
    if (other) other.scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("click", function (event) {
    var line = event.target.closest ? event.target.closest("[data-w]") : null;
    if (line) select(line);
  });

  // `page.html#selftest`: click a wasm instruction, then a machine instruction, and record
  // what got highlighted, for a test in a headless browser to read from the DOM.
  function attrs(selector, name) {
    return Array.prototype.map.call(document.querySelectorAll(selector), function (e) {
      return e.getAttribute(name);
    }).join(" ");
  }
  function selftest(out) {
    var wasm = document.querySelector("section.func .w.x");
    var machine = document.querySelectorAll("section.func .m[data-w]");
    if (!wasm || machine.length === 0) {
      out.setAttribute("data-status", "nothing to click");
      return;
    }
    wasm.click();
    out.setAttribute("data-wasm-clicked", wasm.getAttribute("data-w"));
    out.setAttribute("data-asm-lit", attrs(".m.hl", "data-a"));
    out.setAttribute("data-wasm-lit", attrs(".w.hl", "data-w"));
    var last = machine[machine.length - 1];
    last.click();
    out.setAttribute("data-asm-clicked", last.getAttribute("data-a"));
    out.setAttribute("data-back-wasm-lit", attrs(".w.hl", "data-w"));
    out.setAttribute("data-back-asm-lit", attrs(".m.hl", "data-a"));
    out.setAttribute("data-status", "done");
  }
  var out = document.getElementById("kiln-selftest");
  if (location.hash === "#selftest") selftest(out);
  // Proves to the test that an error would be reported in the page.
  if (location.hash === "#selftest-throw") throw new Error("self-test error");
})();
