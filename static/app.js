// Progressive niceties only: every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Secret form: show only the fields of the chosen type.
  var form = document.querySelector("[data-secret-form]");
  var type = form && form.querySelector("[data-type-select]");
  if (type) {
    var sync = function () {
      form.querySelectorAll("fieldset[data-kind]").forEach(function (fs) {
        var on = fs.getAttribute("data-kind").split(" ").indexOf(type.value) >= 0;
        fs.hidden = !on;
        fs.disabled = !on;
      });
    };
    type.addEventListener("change", sync);
    sync();
  }

  // Image form: the select only when the box is ticked; the GPU URL only
  // for Universal images.
  var img = document.querySelector("[data-image-form]");
  if (img) {
    var box = img.querySelector("[data-use-secret]");
    var select = img.querySelector("[data-secret-select]");
    var kind = img.querySelector("[data-image-type]");
    var gpu = img.querySelector("[data-gpu-url]");
    var update = function () {
      select.disabled = !box.checked;
      if (gpu && kind) gpu.hidden = kind.value !== "both" && !gpu.querySelector("input").value;
    };
    box.addEventListener("change", update);
    if (kind) kind.addEventListener("change", update);
    update();
  }
})();

// Groups: a filter box over many members' checkboxes (the list works without it).
document.querySelectorAll("[data-member-filter]").forEach(function (box) {
  box.hidden = false;
  var labels = box.closest("[data-members]").querySelectorAll("label.member");
  box.addEventListener("input", function () {
    var q = box.value.trim().toLowerCase();
    labels.forEach(function (l) {
      l.hidden = q !== "" && l.textContent.toLowerCase().indexOf(q) < 0;
    });
  });
});

// Images: the Groups of a Global image do not count; grey them out.
document.querySelectorAll("[data-global]").forEach(function (box) {
  var groups = box.closest("form").querySelector("[data-groups]");
  if (!groups) return;
  var sync = function () { groups.classList.toggle("disabled", box.checked); };
  box.addEventListener("change", sync);
  sync();
});

// Copy buttons: one beside each command block and each image address. The
// text stays selectable without this file.
(function () {
  "use strict";
  var copy = function (text, button) {
    var said = function (word) {
      button.textContent = word;
      setTimeout(function () { button.textContent = "Copy"; }, 2000);
    };
    var fallback = function () {
      // Plain-HTTP pages get no clipboard API: copy through a selection.
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(area);
      said(ok ? "Copied" : "Press Ctrl+C");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { said("Copied"); }, fallback);
    } else {
      fallback();
    }
  };
  var button = function (label) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "copy";
    b.textContent = "Copy";
    b.setAttribute("aria-label", label);
    return b;
  };
  document.querySelectorAll("pre[data-copy]").forEach(function (pre) {
    var box = document.createElement("div");
    box.className = "copyable";
    pre.parentNode.insertBefore(box, pre);
    box.appendChild(pre);
    var b = button("Copy this command");
    b.addEventListener("click", function () { copy(pre.textContent, b); });
    box.appendChild(b);
  });
  document.querySelectorAll("code[data-copy]").forEach(function (code) {
    var b = button("Copy this address");
    b.addEventListener("click", function () { copy(code.textContent, b); });
    code.parentNode.insertBefore(b, code.nextSibling);
  });
})();

// Menus close when one clicks elsewhere or presses Escape.
document.addEventListener("click", function (e) {
  document.querySelectorAll("details.menu[open]").forEach(function (d) {
    if (!d.contains(e.target)) d.removeAttribute("open");
  });
});
document.addEventListener("keydown", function (e) {
  if (e.key !== "Escape") return;
  document.querySelectorAll("details.menu[open]").forEach(function (d) { d.removeAttribute("open"); });
});
