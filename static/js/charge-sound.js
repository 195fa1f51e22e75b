// An optional chime when a charge shown on the terminal page reaches its outcome: a rising pair
// of tones for an approval, one low tone for anything else. Off by default; the toggle is
// remembered in this browser. It watches the live box (`.intent-live[data-state]`) that htmx
// refreshes, so it needs nothing from the server. No inline script (CSP).
(function () {
  "use strict";
  var KEY = "ecr.chargeSound";
  var FINAL = { approved: true, declined: true, failed: true, cancelled: true };
  var toggle = document.querySelector("[data-charge-sound]");
  if (!toggle) {
    return;
  }
  var audio = null;
  var seen = {};

  function stored() {
    try {
      return window.localStorage.getItem(KEY) === "on";
    } catch (e) {
      return false; // storage blocked: off, as by default
    }
  }

  function context() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!audio && Ctx) {
      audio = new Ctx();
    }
    if (audio && audio.state === "suspended") {
      audio.resume();
    }
    return audio;
  }

  function tone(ctx, frequency, start, length) {
    var osc = ctx.createOscillator();
    var gain = ctx.createGain();
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.2, ctx.currentTime + start);
    gain.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + start + length);
    osc.connect(gain).connect(ctx.destination);
    osc.start(ctx.currentTime + start);
    osc.stop(ctx.currentTime + start + length);
  }

  function chime(state) {
    // What played, for people who cannot hear it and for the browser test.
    toggle.setAttribute("data-played", state);
    var ctx = context();
    if (!ctx) {
      return;
    }
    if (state === "approved") {
      tone(ctx, 660, 0, 0.15);
      tone(ctx, 990, 0.16, 0.25);
    } else {
      tone(ctx, 220, 0, 0.4);
    }
  }

  function check() {
    document.querySelectorAll(".intent-live[data-intent][data-state]").forEach(function (box) {
      var id = box.getAttribute("data-intent");
      var state = box.getAttribute("data-state");
      var before = seen[id];
      seen[id] = state;
      if (toggle.checked && FINAL[state] && before !== state && !FINAL[before]) {
        chime(state);
      }
    });
  }

  toggle.checked = stored();
  toggle.addEventListener("change", function () {
    try {
      window.localStorage.setItem(KEY, toggle.checked ? "on" : "off");
    } catch (e) {
      // storage blocked: the toggle still works for this page
    }
    if (toggle.checked) {
      context(); // a click is the gesture browsers ask for before any sound
    }
  });
  // What is on the page at load is not news: remember it without a sound.
  document.querySelectorAll(".intent-live[data-intent][data-state]").forEach(function (box) {
    seen[box.getAttribute("data-intent")] = box.getAttribute("data-state");
  });
  document.body.addEventListener("htmx:afterSettle", check);
})();
