// Any JavaScript error is written into the page, where a reader (and a headless test) sees it.
window.onerror = function (message, source, line, column) {
  var box = document.getElementById("kiln-errors") || document.documentElement;
  var p = document.createElement("p");
  p.className = "js-error";
  p.textContent = "JavaScript error: " + message + " (line " + line + ", column " + column + ")";
  box.appendChild(p);
};
