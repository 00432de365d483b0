/* The review screen: keyboard shortcuts and the help overlay. Served locally, no dependencies
   besides htmx. Keys act on whatever panel is on screen, so they keep working after htmx swaps
   the next item in. */
(function () {
  "use strict";

  // Answers that carry a message for the reviewer are swapped in like any other:
  // 409 (the claim was lost, or the item was already decided) and 422 (values to fix).
  if (window.htmx) {
    window.htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "409", swap: true, error: false },
      { code: "422", swap: true, error: false },
      { code: "[45]..", swap: false, error: true },
    ];
  }

  function byId(id) {
    return document.getElementById(id);
  }

  function isTyping(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  function fieldInputs() {
    return Array.prototype.slice.call(document.querySelectorAll("#decision-form [data-field]"));
  }

  function isDirty() {
    return fieldInputs().some(function (el) {
      if (el.tagName === "SELECT") {
        return Array.prototype.some.call(el.options, function (o) {
          return o.selected !== o.defaultSelected;
        });
      }
      return el.value !== el.defaultValue;
    });
  }

  function hint(text) {
    var el = byId("key-hint");
    if (el) el.textContent = text;
  }

  // htmx wires a swapped-in panel when it settles, 20 ms after the swap: a key pressed before
  // that would fall back to a plain form post and a full page load. Wire it now (a no-op when
  // htmx already has).
  function wired(el) {
    if (el && window.htmx) window.htmx.process(el);
    return el;
  }

  function press(id) {
    wired(byId("review-panel"));
    var button = byId(id);
    if (button && !button.disabled) {
      button.click();
      return true;
    }
    return false;
  }

  function openBox(id) {
    var box = byId(id);
    if (!box) return;
    box.open = true;
    var area = box.querySelector("textarea");
    if (area) area.focus();
  }

  function moveField(step) {
    var inputs = fieldInputs();
    if (!inputs.length) return;
    var at = inputs.indexOf(document.activeElement);
    var next = at < 0 ? (step > 0 ? 0 : inputs.length - 1) : (at + step + inputs.length) % inputs.length;
    inputs[next].focus();
    if (inputs[next].select) inputs[next].select();
  }

  function toggleHelp(show) {
    var help = byId("help-overlay");
    if (!help) return;
    help.hidden = show === undefined ? !help.hidden : !show;
  }

  function save(active) {
    var form = active && active.closest ? active.closest("#review-panel form") : null;
    form = wired(form || byId("decision-form"));
    if (form && form.requestSubmit) form.requestSubmit();
  }

  document.addEventListener("keydown", function (event) {
    var active = document.activeElement;
    if (event.key === "Escape") {
      var help = byId("help-overlay");
      if (help && !help.hidden) toggleHelp(false);
      else if (isTyping(active)) active.blur();
      return;
    }
    if ((event.ctrlKey || event.metaKey) && (event.key === "Enter" || event.key === "s")) {
      if (!byId("review-panel")) return;
      event.preventDefault();
      save(active);
      return;
    }
    // Next / previous field from anywhere, typing included (Tab walks a date input's parts).
    if (event.ctrlKey && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      if (!fieldInputs().length) return;
      event.preventDefault();
      moveField(event.key === "ArrowDown" ? 1 : -1);
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || isTyping(active) || !byId("review-panel")) return;
    switch (event.key) {
      case "a":
        if (isDirty()) hint("You changed a field: Ctrl+Enter saves the correction.");
        else press("btn-approve");
        break;
      case "r":
        openBox("reject-box");
        break;
      case "e":
        openBox("escalate-box");
        break;
      case "f":
      case "j":
        moveField(1);
        break;
      case "F":
      case "k":
        moveField(-1);
        break;
      case "w":
        var reasoning = byId("reasoning");
        if (reasoning) reasoning.open = !reasoning.open;
        break;
      case "n":
        press("btn-next");
        break;
      case "?":
        toggleHelp();
        break;
      default:
        return;
    }
    event.preventDefault();
  });

  // The next item arrived: start from the top, nothing focused, so the keys act on it at once.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "review-panel") {
      if (isTyping(document.activeElement)) document.activeElement.blur();
      var firstError = document.querySelector("#review-panel .has-error [data-field]");
      if (firstError) firstError.focus();
      else window.scrollTo(0, 0);
    }
  });
})();
