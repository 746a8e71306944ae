// agora-serverless web example: plain JavaScript, no build step, no framework.
// Sign in, mint RTC + RTM tokens and renew them before they expire; with a real App ID (config realAgora), join
// the call with the Agora Web SDK; admins start and stop recordings, watch their status live and play them (hls.js);
// on the local stack, each recording's card lists its app events as the bus publishes them (GET /local/events);
// live captions of the channel (POST /transcriptions) and a recording's captions track in the player; a panel that
// starts a Conversational AI agent from a profile and makes it speak, interrupts it and makes it leave (/agents).
// The browser libraries are npm packages pinned in package-lock.json (make setup), loaded only when needed.
"use strict";

const cfg = Object.assign(
  {
    renewBeforeSeconds: 30, groupsClaim: "cognito:groups", adminGroup: "admins", publisherGroup: "hosts",
    localUsers: [], realAgora: false, agoraAppId: "", localEvents: false, agentProfiles: [],
    hlsJsUrl: "node_modules/hls.js/dist/hls.min.js",
    agoraSdkUrl: "node_modules/agora-rtc-sdk-ng/AgoraRTC_N-production.js",
  },
  window.AGORA_SERVERLESS_CONFIG || {},
);
const $ = (id) => document.getElementById(id);
const TERMINAL = ["STOPPED", "FAILED"];
const POLL_FIRST_MS = 1000;
const POLL_MAX_MS = 10000;
const SETTLE_AFTER_STOP_MS = 60000; // a stopped recording's integrity and durations land shortly after the stop
const EVENTS_WAIT_S = 20; // the local stack's longest long-poll (local/events.py MAX_WAIT_S)
const EVENTS_RETRY_FIRST_MS = 1000;
const EVENTS_RETRY_MAX_MS = 30000;

function freshState() {
  return {
    idToken: null, claims: null, tokens: null, renewTimer: null, renewals: 0, renewing: false,
    recordings: new Map(), // recording_id -> the API's view, newest answer wins
    detailed: new Set(), // recordings whose own view (media, integrity) has been read at least once
    recChannel: null, pollTimer: null, pollDelay: POLL_FIRST_MS, listSeq: 0, call: null, hls: null,
    events: {
      cursor: "0", // GET /local/events?after=<cursor>: what this page has read of the bus
      seen: new Set(), // detail.event_id of every event read (an event can be delivered twice)
      byRecording: new Map(), // recording_id -> its events, in the order the facts happened
      sids: new Map(), // sid -> recording_id (media events name the sid)
      controller: null, // the running long-poll (aborted at sign-out and while the tab is hidden)
      available: null, // false once /local/events answered 404 (a deployed API): the lists are hidden
    },
    tx: freshTx(), // the channel's transcription: its view, the captions read so far, the poll timer
    agents: { byId: new Map(), timer: null, available: null }, // agentId -> the API's view
  };
}
let state = freshState();
let session = 0; // bumped at sign-in and sign-out: an answer for an older session is dropped
let eventFollowers = 0; // long-poll loops running (at most one)
let eventAborts = 0; // long-polls cut short by sign-out or a hidden tab

// ---- time: one zone everywhere (the browser's), always named -----------------------------------
const TIME_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;
const timeFormat = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
});
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
});
const clockFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

function toDate(value) {
  if (value == null || value === "") return null;
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

function when(value) {
  const date = toDate(value);
  if (!date) return "-";
  const today = new Date().toDateString() === date.toDateString();
  return (today ? timeFormat : dateTimeFormat).format(date);
}

function duration(seconds) {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return "-";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const parts = h ? [`${h} h`, `${m} min`] : m ? [`${m} min`, `${s % 60} s`] : [`${s % 60} s`];
  return parts.join(" ");
}

// ---- log and errors in place ------------------------------------------------------------------
function log(message) {
  const item = document.createElement("li");
  item.textContent = `${clockFormat.format(new Date())} ${message}`;
  $("log").prepend(item);
}

function showError(element, message) {
  element.textContent = message || "";
  element.hidden = !message;
  if (message) log(`error: ${message}`);
}

// A button's action: disabled with a spinner and a label while it runs; its error shown in `errorElement`.
async function action(button, busyLabel, errorElement, fn) {
  if (button.disabled) return;
  const label = button.textContent;
  const owner = session;
  button.disabled = true;
  button.classList.add("busy");
  button.setAttribute("aria-busy", "true");
  button.textContent = busyLabel;
  if (errorElement) showError(errorElement, "");
  try {
    await fn();
  } catch (err) {
    if (owner === session && errorElement) showError(errorElement, err.message);
  } finally {
    button.textContent = label;
    button.classList.remove("busy");
    button.removeAttribute("aria-busy");
    button.disabled = false;
    updateControls();
    const card = button.closest(".rec-card"); // a card's buttons follow its recording's status again
    if (card && state.recordings.has(card.dataset.id)) renderCard(state.recordings.get(card.dataset.id));
  }
}

function isBusy(button) {
  return button.classList.contains("busy");
}

// ---- the API ------------------------------------------------------------------------------------
async function api(method, path, body, { auth = true, signal } = {}) {
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (auth) headers.authorization = `Bearer ${state.idToken}`;
  let response;
  try {
    response = await fetch(cfg.apiUrl + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal,
    });
  } catch (err) {
    if (signal && signal.aborted) throw err;
    // a CORS refusal and an unreachable API look the same to a page: say both
    throw new Error(`${method} ${path}: the browser refused the call or could not reach the API (${err.message}); `
      + `is this page's origin ${location.origin} in the API's CORS origins (corsOrigins, --cors-origins)?`);
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!response.ok) {
    const detail = (data && ((data.error && data.error.message) || data.message)) || text;
    throw Object.assign(new Error(`${method} ${path}: HTTP ${response.status} ${detail}`), { status: response.status });
  }
  return data;
}

// A classic script from node_modules (make setup installs them), loaded once, when first needed.
const scripts = new Map();
function loadScript(url, globalName, what) {
  if (window[globalName]) return Promise.resolve(window[globalName]);
  if (!scripts.has(url)) {
    scripts.set(url, new Promise((resolve, reject) => {
      const tag = document.createElement("script");
      tag.src = url;
      tag.onload = () => (window[globalName] ? resolve(window[globalName])
        : reject(new Error(`${url} loaded but defines no ${globalName}`)));
      tag.onerror = () => {
        scripts.delete(url);
        reject(new Error(`${what} is not installed (${url}): run make setup (it needs npm)`));
      };
      document.head.append(tag);
    }));
  }
  return scripts.get(url);
}

// ---- sign-in ------------------------------------------------------------------------------------
function decodeJwt(token) {
  const part = token.split(".")[1];
  if (!part) throw new Error("this is not a JWT (header.payload.signature)");
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, "="));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
}

function groupsOf(claims) {
  const value = claims[cfg.groupsClaim];
  if (Array.isArray(value)) return value.map(String);
  return value ? String(value).split(/[ ,]+/).filter(Boolean) : [];
}

function isAdmin() {
  return Boolean(state.claims) && groupsOf(state.claims).includes(cfg.adminGroup);
}

function setSession(idToken) {
  const claims = decodeJwt(idToken);
  if (state.idToken) signOut({ quiet: true });
  session += 1;
  state.idToken = idToken;
  state.claims = claims;
  sessionStorage.setItem("idToken", idToken);
  const groups = groupsOf(claims);
  const name = claims["cognito:username"] || claims.email || claims.sub;
  $("signed-in").textContent = name;
  $("signed-in-as").textContent = name;
  $("groups").textContent = `· groups: ${groups.join(", ") || "none"} · ID token expires ${when(claims.exp)}`;
  // the role this user may mint: publishers are the publisher group; asking for more is a 403
  const publisher = groups.includes(cfg.publisherGroup);
  $("role").value = publisher ? "publisher" : "subscriber";
  $("role-hint").textContent = publisher
    ? `You are in "${cfg.publisherGroup}": you may publish.`
    : `Not in "${cfg.publisherGroup}": subscriber (asking to publish is refused).`;
  $("admin-section").hidden = !groups.includes(cfg.adminGroup);
  $("agents-section").hidden = !groups.includes(cfg.adminGroup);
  updateControls();
  log(`signed in as ${name}`);
  if (isAdmin()) {
    loadRecordings({ reason: "sign-in" })
      .then(() => loadTx(state.recChannel))
      .catch((err) => showError($("rec-error"), err.message));
    loadAgents().catch((err) => showError($("agent-error"), err.message));
  }
  followEvents();
}

function signOut({ quiet = false } = {}) {
  session += 1;
  clearTimeout(state.renewTimer);
  clearTimeout(state.pollTimer);
  clearTimeout(state.tx.timer);
  clearTimeout(state.agents.timer);
  stopEvents();
  stopPlayback();
  leaveCall().catch(() => {});
  state = freshState();
  sessionStorage.removeItem("idToken");
  for (const id of ["uid", "rtc-token", "rtm-token", "rtm-user", "expires-at", "renew-at"]) $(id).textContent = "-";
  delete $("expires-at").dataset.epoch;
  $("renewals").textContent = "0";
  $("signed-in").textContent = "no";
  $("signed-in-as").textContent = "not signed in";
  $("groups").textContent = "";
  $("role-hint").textContent = "";
  $("paste-token").value = "";
  $("rec-list").replaceChildren();
  $("rec-live").textContent = "";
  $("admin-section").hidden = true;
  $("agents-section").hidden = true;
  $("agent-list").replaceChildren();
  $("agent-note").textContent = "";
  renderTx();
  for (const element of document.querySelectorAll(".error")) showError(element, "");
  if (!quiet) {
    $("log").replaceChildren();
    log("signed out");
  }
  updateControls();
}

async function signInLocal() {
  // the local stack's dev sign-in (POST /local/token): an ID token of the local issuer, as Cognito would issue
  const result = await api("POST", "/local/token", { username: $("signin-user").value }, { auth: false });
  setSession(result.id_token);
}

function b64url(bytes) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function signInOidc() {
  // authorization code + PKCE: works with Cognito's hosted UI and any OIDC issuer that allows this origin
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  const nonce = b64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem("pkce", JSON.stringify({ verifier, state: nonce }));
  const url = new URL(cfg.oidc.authorizeUrl);
  url.search = new URLSearchParams({
    response_type: "code", client_id: cfg.oidc.clientId, redirect_uri: location.origin + location.pathname,
    scope: cfg.oidc.scope || "openid", state: nonce,
    code_challenge: b64url(new Uint8Array(digest)), code_challenge_method: "S256",
  });
  location.assign(url.toString());
}

async function finishOidc() {
  const params = new URLSearchParams(location.search);
  if (!params.get("code")) return false;
  const saved = JSON.parse(sessionStorage.getItem("pkce") || "{}");
  history.replaceState(null, "", location.pathname);
  if (params.get("state") !== saved.state) throw new Error("sign-in answer does not match this page's request");
  const response = await fetch(cfg.oidc.tokenUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code", client_id: cfg.oidc.clientId, code: params.get("code"),
      redirect_uri: location.origin + location.pathname, code_verifier: saved.verifier,
    }),
  });
  const data = await response.json();
  if (!response.ok || !data.id_token) throw new Error(`token endpoint: HTTP ${response.status} ${data.error || ""}`);
  setSession(data.id_token);
  return true;
}

// ---- tokens: mint, renew before expiry, and (real App ID) join the call ---------------------------
function showTokens(tokens) {
  $("uid").textContent = String(tokens.uid);
  $("rtc-token").textContent = tokens.rtc_token;
  $("rtm-token").textContent = tokens.rtm_token || "-";
  $("rtm-user").textContent = tokens.rtm_user_id || "-";
  $("expires-at").textContent = when(tokens.expires_at);
  $("expires-at").dataset.epoch = String(tokens.expires_at);
  $("renewals").textContent = String(state.renewals);
}

function mint() {
  return api("POST", "/tokens", {
    channel: $("channel").value, role: $("role").value, ttl: Number($("ttl").value), rtm: $("rtm").checked,
  });
}

function scheduleRenewal(tokens) {
  clearTimeout(state.renewTimer);
  const now = Date.now() / 1000;
  const lifetime = tokens.expires_at - tokens.issued_at;
  // like the SDK's token-privilege-will-expire (30 s before); for very short tokens, at half their life
  const lead = Math.min(cfg.renewBeforeSeconds, lifetime / 2);
  const delay = Math.max(0.5, tokens.expires_at - lead - now);
  $("renew-at").textContent = when(now + delay);
  const owner = session;
  state.renewTimer = setTimeout(() => {
    if (owner === session) renew().catch((err) => showError($("token-error"), err.message));
  }, delay * 1000);
}

async function getTokens() {
  const owner = session;
  const tokens = await mint();
  if (owner !== session) return;
  state.tokens = tokens;
  state.renewals = 0;
  showTokens(tokens);
  log(`tokens for ${tokens.channel}: uid ${tokens.uid} as ${tokens.role}, expires ${when(tokens.expires_at)}`);
  scheduleRenewal(tokens);
}

async function renew() {
  if (state.renewing || !state.tokens) return;
  state.renewing = true;
  const owner = session;
  try {
    const tokens = await mint();
    if (owner !== session) return;
    // in a call, the SDK client takes the new token (RTM: rtmClient.renewToken(tokens.rtm_token) the same way)
    if (state.call) await state.call.client.renewToken(tokens.rtc_token);
    state.tokens = tokens;
    state.renewals += 1;
    showTokens(tokens);
    log(`renewed: uid ${tokens.uid}, expires ${when(tokens.expires_at)}${state.call ? " (client.renewToken)" : ""}`);
    scheduleRenewal(tokens);
  } finally {
    state.renewing = false;
  }
}

function loadAgoraSdk() {
  return loadScript(cfg.agoraSdkUrl, "AgoraRTC", "the Agora Web SDK (agora-rtc-sdk-ng)").then((AgoraRTC) => {
    AgoraRTC.setLogLevel(2); // warnings and errors only
    if (AgoraRTC.disableLogUpload) AgoraRTC.disableLogUpload();
    return AgoraRTC;
  });
}

async function joinCall() {
  const AgoraRTC = await loadAgoraSdk();
  const owner = session;
  if (!state.tokens || state.tokens.channel !== $("channel").value) await getTokens();
  const tokens = state.tokens;
  const appId = cfg.agoraAppId || tokens.app_id;
  const client = AgoraRTC.createClient({ mode: "live", codec: "vp8" });
  await client.setClientRole(tokens.role === "publisher" ? "host" : "audience");
  client.on("token-privilege-will-expire", () => renew().catch((err) => showError($("token-error"), err.message)));
  client.on("token-privilege-did-expire", () => showError($("token-error"), "the call's token expired: join again"));
  client.on("user-published", async (user, mediaType) => {
    await client.subscribe(user, mediaType);
    if (mediaType === "video") {
      const box = document.createElement("div");
      box.id = `remote-${user.uid}`;
      $("remote-videos").append(box);
      user.videoTrack.play(box);
    } else {
      user.audioTrack.play();
    }
  });
  client.on("user-unpublished", (user) => $(`remote-${user.uid}`)?.remove());
  await client.join(appId, tokens.channel, tokens.rtc_token, tokens.uid);
  const tracks = [];
  if (owner !== session) {
    await client.leave();
    return;
  }
  state.call = { client, tracks };
  if (tokens.role === "publisher") {
    tracks.push(...await AgoraRTC.createMicrophoneAndCameraTracks());
    tracks[1].play($("local-video"));
    await client.publish(tracks);
  }
  $("call").hidden = false;
  $("call-status").textContent = `In ${tokens.channel} as uid ${tokens.uid} (${tokens.role}), App ID ${appId}`;
  log(`joined ${tokens.channel} with the Agora Web SDK as uid ${tokens.uid}`);
}

async function leaveCall() {
  const call = state.call;
  if (!call) return;
  state.call = null;
  for (const track of call.tracks) track.close();
  await call.client.leave();
  $("call").hidden = true;
  $("remote-videos").replaceChildren();
  log("left the call");
}

// ---- recordings (admins): cards, live status, playback ------------------------------------------
function settled(rec) {
  if (!TERMINAL.includes(rec.status)) return false;
  if (rec.status === "FAILED") return true;
  const stoppedAt = toDate(rec.stopped_at || rec.updated_at);
  const recent = stoppedAt && Date.now() - stoppedAt.getTime() < SETTLE_AFTER_STOP_MS;
  // a stopped recording whose files are still being checked is followed a little longer
  return !(recent && (!rec.integrity || rec.integrity.status === "pending"));
}

function needsPolling() {
  return isAdmin() && [...state.recordings.values()].some((rec) => !settled(rec));
}

function schedulePoll({ reset = false } = {}) {
  clearTimeout(state.pollTimer);
  state.pollTimer = null;
  if (reset) state.pollDelay = POLL_FIRST_MS;
  if (!needsPolling()) {
    $("rec-live").textContent = state.recordings.size ? "up to date" : "";
    return;
  }
  if (document.hidden) {
    $("rec-live").textContent = "paused while the page is hidden";
    return;
  }
  $("rec-live").textContent = `live · next check in ${Math.round(state.pollDelay / 1000)} s`;
  const owner = session;
  state.pollTimer = setTimeout(() => {
    if (owner !== session) return;
    loadRecordings({ reason: "poll" })
      .then((changed) => { state.pollDelay = changed ? POLL_FIRST_MS : Math.min(state.pollDelay * 1.5, POLL_MAX_MS); })
      .catch((err) => {
        state.pollDelay = Math.min(state.pollDelay * 2, POLL_MAX_MS * 3);
        showError($("rec-error"), err.message);
      })
      .finally(() => { if (owner === session) schedulePoll(); });
  }, state.pollDelay);
}

// Apply one answer about a recording: the one place that changes a recording's state, logs it and renders it.
function applyRecording(answer, { source, quiet = false } = {}) {
  const before = state.recordings.get(answer.recording_id);
  // answers can cross (a list read during a start or a stop): an older one never overwrites a newer one
  if (before && (answer.updated_at || "") < (before.updated_at || "")) return false;
  const rec = { ...answer };
  for (const key of ["media", "integrity"]) { // the list's views leave these out: keep the detail's
    if (rec[key] == null && before && before[key] != null) rec[key] = before[key];
  }
  state.recordings.set(rec.recording_id, rec);
  if (!before) {
    if (!quiet) log(`recording ${short(rec.recording_id)} in ${rec.channel}: ${rec.status}`);
  } else if (before.status !== rec.status) {
    log(`recording ${short(rec.recording_id)}: ${before.status} → ${rec.status}`);
  }
  renderCard(rec);
  return !before || JSON.stringify(before) !== JSON.stringify(rec);
}

function short(id) {
  return String(id).slice(0, 8);
}

function switchChannel(channel) {
  if (state.recChannel === channel) return false;
  state.recChannel = channel;
  state.recordings.clear();
  state.detailed.clear();
  $("rec-list").replaceChildren();
  return true;
}

async function loadRecordings({ reason }) {
  const channel = $("rec-channel").value.trim();
  if (!channel) throw new Error("name a channel to see its recordings");
  const seq = ++state.listSeq;
  const owner = session;
  const { recordings } = await api("GET", `/recordings?channel=${encodeURIComponent(channel)}`);
  if (owner !== session || seq !== state.listSeq) return false; // a newer answer is coming or the user left
  const fresh = switchChannel(channel);
  let changed = false;
  for (const rec of recordings) {
    // a channel's first list logs only what is still moving; after that, every recording that appears
    const quiet = fresh && settled(rec);
    changed = applyRecording(rec, { source: "list", quiet }) || changed;
  }
  // the list has statuses; durations, upload facts and the integrity check come with each recording's own view
  const wanted = recordings.filter((rec) => !state.detailed.has(rec.recording_id)
    || !settled(state.recordings.get(rec.recording_id))).slice(0, 10);
  const details = await Promise.all(
    wanted.map((rec) => api("GET", `/recordings/${encodeURIComponent(rec.recording_id)}`)),
  );
  if (owner !== session || seq !== state.listSeq) return false;
  for (const rec of details) {
    state.detailed.add(rec.recording_id);
    changed = applyRecording(rec, { source: "detail" }) || changed;
  }
  // a recording missing from the list stays: recordings are never deleted, and a list read right after a start
  // may not have the new one yet (the list is a secondary index, eventually consistent on DynamoDB)
  orderCards(recordings.map((rec) => rec.recording_id));
  $("rec-empty").hidden = state.recordings.size > 0;
  showError($("rec-error"), "");
  if (reason !== "poll") log(`${recordings.length} recording(s) in ${channel}`);
  if (reason !== "poll") schedulePoll({ reset: true });
  return changed;
}

function cardOf(id) {
  return $("rec-list").querySelector(`.rec-card[data-id="${CSS.escape(id)}"]`);
}

function orderCards(ids) {
  const list = $("rec-list");
  ids.forEach((id, index) => {
    const card = cardOf(id);
    if (card && list.children[index] !== card) list.insertBefore(card, list.children[index] || null);
  });
}

function newCard(id) {
  const card = document.createElement("article");
  card.className = "rec-card";
  card.dataset.id = id;
  card.innerHTML = `
    <header><span class="rec-name"></span>
      <span><span class="rec-note muted small" hidden>stop requested</span> <span class="badge rec-status"></span></span>
    </header>
    <dl>
      <dt>started</dt><dd class="rec-started"></dd>
      <dt>stopped</dt><dd class="rec-stopped"></dd>
      <dt>duration</dt><dd class="rec-duration"></dd>
      <dt>upload</dt><dd class="rec-upload"></dd>
      <dt>integrity</dt><dd class="rec-integrity"></dd>
      <dt>recording</dt><dd class="rec-id muted"></dd>
    </dl>
    <section class="rec-events" hidden>
      <h4>Events <span class="muted small">live, from the bus</span></h4>
      <ol class="rec-events-list"></ol>
      <p class="rec-events-empty muted small">none yet</p>
    </section>
    <div class="actions">
      <button class="rec-stop danger">Stop</button>
      <button class="rec-play">Play</button>
      <button class="rec-details-toggle secondary" aria-expanded="false">Details</button>
    </div>
    <p class="error rec-card-error" role="alert" hidden></p>
    <pre class="rec-json" hidden></pre>`;
  const error = card.querySelector(".rec-card-error");
  const stop = card.querySelector(".rec-stop");
  stop.onclick = () => action(stop, "Stopping…", error, () => stopRecording(id));
  const play = card.querySelector(".rec-play");
  play.onclick = () => action(play, "Loading…", error, () => playRecording(id));
  const toggle = card.querySelector(".rec-details-toggle");
  toggle.onclick = () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    toggle.textContent = open ? "Hide details" : "Details";
    card.querySelector(".rec-json").hidden = !open;
  };
  return card;
}

function renderCard(rec) {
  let card = cardOf(rec.recording_id);
  if (!card) {
    card = newCard(rec.recording_id);
    $("rec-list").prepend(card);
    $("rec-empty").hidden = true;
  }
  card.dataset.status = rec.status;
  const set = (selector, text) => { card.querySelector(selector).textContent = text; };
  set(".rec-name", `${rec.channel} · ${rec.mode || "mix"}`);
  const badge = card.querySelector(".rec-status");
  const stopping = Boolean(rec.stop_requested) && !TERMINAL.includes(rec.status) && rec.status !== "STOPPING";
  badge.textContent = rec.status;
  badge.className = `badge rec-status ${rec.status}`;
  badge.title = stopping ? "stop requested" : "";
  card.querySelector(".rec-note").hidden = !stopping;
  set(".rec-started", when(rec.started_at));
  set(".rec-stopped", when(rec.stopped_at));
  set(".rec-duration", recordingDuration(rec));
  renderUpload(card.querySelector(".rec-upload"), rec);
  set(".rec-integrity", integrityText(rec));
  set(".rec-id", rec.recording_id);
  set(".rec-json", JSON.stringify(rec, null, 2));
  const stop = card.querySelector(".rec-stop");
  if (!isBusy(stop)) stop.disabled = TERMINAL.includes(rec.status) || rec.status === "STOPPING" || stopping;
  const play = card.querySelector(".rec-play");
  if (!isBusy(play)) play.disabled = !["RECORDING", "STOPPING", "STOPPED"].includes(rec.status);
  renderEvents(rec.recording_id, { onlyIfChanged: true });
}

function recordingDuration(rec) {
  const media = rec.media ? Number.parseFloat(rec.media.duration_seconds) : Number.NaN;
  if (Number.isFinite(media) && media > 0) return duration(media) + (rec.media.ended ? "" : " so far");
  const start = toDate(rec.started_at);
  if (!start) return "-";
  const end = toDate(rec.stopped_at) || (TERMINAL.includes(rec.status) ? toDate(rec.updated_at) : new Date());
  return duration((end.getTime() - start.getTime()) / 1000) + (rec.stopped_at ? "" : " so far");
}

function renderUpload(cellElement, rec) {
  const percent = rec.upload_progress_percent;
  const files = `${rec.files_uploaded || 0} file(s)`;
  cellElement.replaceChildren();
  if (typeof percent === "number") {
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = percent;
    cellElement.append(bar, ` ${Math.round(percent)} % · ${files}`);
  } else {
    cellElement.append(rec.uploading_status ? `${rec.uploading_status} · ${files}` : files);
  }
}

function integrityText(rec) {
  const integrity = rec.integrity;
  if (!integrity || !integrity.status) return TERMINAL.includes(rec.status) ? "not checked" : "after the stop";
  const missing = integrity.missing_count ?? (integrity.missing || []).length;
  const segments = integrity.segments == null ? "every segment" : `all ${integrity.segments} segments`;
  if (integrity.status === "complete") return `complete: ${segments} in the bucket`;
  if (integrity.status === "incomplete") return `incomplete: ${missing} segment(s) missing`;
  return integrity.status;
}

// ---- a recording's events (local stack): GET /local/events, long-polled --------------------------------
// The local stack captures what its EventBridge bus publishes and lists the envelopes in arrival order
// (docs/events.md). The page follows that list like an app subscribed to the bus: one long-poll at a time
// (`wait`), the cursor of each answer passed to the next, duplicates dropped by detail.event_id, and each
// recording's events put in its card in the order the facts happened (same ordering_key: by sequence).
// A deployed API has no such endpoint (404): the lists are hidden; apps subscribe with eventTargets instead.
const EVENT_RANK = [ // among the events of one write (same ordering key and sequence), the documented order
  "Recording Requested", "Recording Started", "Recording Stopped", "Recording Failed", "Recording Files Ready",
  "Recording Postponed Result", "Recording CDN Status Changed",
];

function eventsShown() {
  return cfg.localEvents === true && state.events.available !== false;
}

function stopEvents() {
  const controller = state.events.controller;
  state.events.controller = null;
  if (controller) controller.abort();
}

function pause(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

async function followEvents() {
  const events = state.events;
  if (!eventsShown() || !isAdmin() || document.hidden || events.controller) return;
  const controller = new AbortController();
  events.controller = controller;
  const owner = session;
  const running = () => owner === session && events.controller === controller;
  let delay = EVENTS_RETRY_FIRST_MS;
  eventFollowers += 1;
  try {
    while (running()) {
      let page;
      try {
        page = await api("GET", `/local/events?after=${encodeURIComponent(events.cursor)}&wait=${EVENTS_WAIT_S}`,
          undefined, { auth: false, signal: controller.signal });
      } catch (err) {
        if (controller.signal.aborted) {
          eventAborts += 1;
          return;
        }
        if (!running()) return;
        if (err.status === 404) { // not the local stack: nothing to follow here
          events.available = false;
          for (const section of document.querySelectorAll(".rec-events")) section.hidden = true;
          log("events: this API has no GET /local/events (a deployed API): see docs/web-client.md");
          return;
        }
        log(`events: ${err.message}; trying again in ${Math.round(delay / 1000)} s`);
        await pause(delay, controller.signal);
        delay = Math.min(delay * 2, EVENTS_RETRY_MAX_MS);
        continue;
      }
      if (!running()) return;
      delay = EVENTS_RETRY_FIRST_MS;
      events.available = true;
      const touched = new Set();
      for (const envelope of page.events || []) {
        const id = addEvent(envelope);
        if (id) touched.add(id);
      }
      events.cursor = String(page.cursor);
      for (const id of touched) renderEvents(id);
    }
  } finally {
    eventFollowers -= 1;
    if (events.controller === controller) events.controller = null;
  }
}

function sequenceOf(detail) {
  try { return BigInt(detail.sequence); } catch { return null; }
}

// Before `other` in the card? Only events with the same ordering key are ordered; the rest keep their arrival order.
function happenedBefore(entry, other) {
  if (entry.detail.ordering_key !== other.detail.ordering_key) return false;
  const [a, b] = [sequenceOf(entry.detail), sequenceOf(other.detail)];
  if (a === null || b === null) return false;
  if (a !== b) return a < b;
  return EVENT_RANK.indexOf(entry.type) < EVENT_RANK.indexOf(other.type);
}

// One envelope read from the bus: the recording it is about (null: a duplicate, or not about a recording).
function addEvent(envelope) {
  const detail = envelope && envelope.detail;
  const type = envelope && envelope["detail-type"];
  if (!detail || !type || !detail.event_id) return null;
  const events = state.events;
  if (events.seen.has(detail.event_id)) return null;
  events.seen.add(detail.event_id);
  if (detail.recording_id && detail.sid) events.sids.set(detail.sid, detail.recording_id);
  const id = detail.recording_id || (detail.sid && events.sids.get(detail.sid));
  if (!id) return null; // a channel's or a project's event
  const list = events.byRecording.get(id) || [];
  events.byRecording.set(id, list);
  const entry = { type, detail, time: detail.occurred_at || envelope.time };
  const at = list.findIndex((other) => happenedBefore(entry, other));
  list.splice(at < 0 ? list.length : at, 0, entry);
  return id;
}

function eventFacts(type, d) {
  switch (type) {
    case "Recording Requested": return d.requested_by ? `by user ${short(d.requested_by)}` : "";
    case "Recording Started": return d.sid ? `sid ${short(d.sid)}` : "";
    case "Recording Stopped": return [d.reason && `reason ${d.reason}`, d.outcome].filter(Boolean).join(" · ");
    case "Recording Failed":
      return [d.reason, d.error_code != null && `error ${d.error_code}`].filter(Boolean).join(" · ");
    case "Recording Files Ready": return `${d.uploading_status} · ${(d.files || []).length} file(s)`;
    case "Recording Integrity Checked":
      return d.status === "complete" ? `complete: all ${d.segments} segments`
        : `${d.status}: ${d.missing_count} of ${d.segments} segment(s) missing`;
    case "Recording Duration Computed": return duration(Number.parseFloat(d.duration_seconds));
    case "Recording Postponed Result": return d.status || "";
    case "Recording CDN Status Changed": return `${d.host || d.output}: ${d.previous_status || "-"} → ${d.status}`;
    default: return "";
  }
}

function renderEvents(id, { onlyIfChanged = false } = {}) {
  const card = cardOf(id);
  if (!card) return;
  const section = card.querySelector(".rec-events");
  section.hidden = !eventsShown();
  const entries = state.events.byRecording.get(id) || [];
  const list = section.querySelector(".rec-events-list");
  if (onlyIfChanged && list.children.length === entries.length) return;
  list.replaceChildren(...entries.map((entry) => {
    const item = document.createElement("li");
    item.dataset.type = entry.type;
    const name = document.createElement("span");
    name.className = "ev-type";
    name.textContent = entry.type;
    const time = document.createElement("span");
    time.className = "ev-time muted";
    time.textContent = when(entry.time);
    const facts = document.createElement("span");
    facts.className = "ev-facts";
    facts.textContent = eventFacts(entry.type, entry.detail);
    item.append(name, " · ", time, facts);
    item.title = `${entry.type} · event_id ${entry.detail.event_id}`;
    return item;
  }));
  section.querySelector(".rec-events-empty").hidden = entries.length > 0;
}

async function startRecording() {
  const channel = $("rec-channel").value.trim();
  if (!channel) throw new Error("name the channel to record");
  const owner = session;
  const accepted = await api("POST", "/recordings", { channel });
  if (owner !== session) return;
  state.listSeq += 1; // a list read before this start would not have it: such an answer is dropped
  switchChannel(channel);
  const known = state.recordings.get(accepted.recording_id) || {};
  applyRecording({ ...known, ...accepted }, { source: "start" });
  schedulePoll({ reset: true });
}

async function stopRecording(id) {
  const owner = session;
  const rec = await api("POST", `/recordings/${encodeURIComponent(id)}/stop`);
  if (owner !== session) return;
  state.listSeq += 1; // an answer read before the stop is older than this one: dropped
  // 202 while the stop is under way: the status stays what it is until the workflow moves it (RECORDING,
  // then STOPPING, then STOPPED); the card says "stop requested" meanwhile
  const pending = rec.stop_requested && !TERMINAL.includes(rec.status) ? " (stop requested)" : "";
  log(`stop of ${short(id)}: ${rec.status}${pending}`);
  applyRecording(rec, { source: "stop" });
  schedulePoll({ reset: true });
}

// Playback: the API rewrites the recording's m3u8 with presigned segment URLs; hls.js plays it in the
// <video>. The playlist request carries the sign-in token (xhrSetup); the presigned segment URLs carry none.
async function playRecording(id) {
  const path = `/recordings/${encodeURIComponent(id)}/playlist`;
  const owner = session;
  const [Hls, playlist] = await Promise.all([
    loadScript(cfg.hlsJsUrl, "Hls", "hls.js"),
    api("GET", path), // the API's own message (no playlist yet, ...) instead of a player error
  ]);
  if (owner !== session) return;
  const segments = (String(playlist).match(/^#EXTINF/gm) || []).length;
  const ended = /^#EXT-X-ENDLIST/m.test(String(playlist));
  stopPlayback();
  const player = $("player");
  const video = $("player-video");
  const status = $("player-status");
  player.hidden = false;
  player.dataset.recording = id;
  player.dataset.play = String(Number(player.dataset.play || 0) + 1); // one more player (tests wait for it)
  player.dataset.manifest = "loading";
  player.dataset.fragments = "0";
  player.dataset.captionTracks = "0";
  player.dataset.captionCues = "0";
  $("player-title").textContent = `${state.recordings.get(id)?.channel || ""} · ${short(id)}`;
  showError($("player-error"), "");
  status.textContent = `${segments} segment(s)${ended ? "" : ", still recording"} · loading`;
  if (!Hls.isSupported()) throw new Error("this browser has no Media Source Extensions: hls.js cannot play here");
  const token = state.idToken;
  const hls = new Hls({
    xhrSetup(xhr, url) {
      if (url.startsWith(cfg.apiUrl)) {
        xhr.open("GET", url, true);
        xhr.setRequestHeader("authorization", `Bearer ${token}`);
      }
    },
  });
  state.hls = hls;
  let fragments = 0;
  hls.on(Hls.Events.MANIFEST_PARSED, () => {
    player.dataset.manifest = "parsed";
    status.textContent = `${segments} segment(s)${ended ? "" : ", still recording"} · playing`;
    video.play().catch(() => { status.textContent += " (press play)"; });
  });
  hls.on(Hls.Events.LEVEL_LOADED, (_event, data) => { // a running recording's playlist, reloaded as it grows
    const count = data.details.fragments.length;
    player.dataset.segments = String(count);
    status.textContent = `${count} segment(s)${data.details.live ? ", still recording" : ""} · playing`;
  });
  hls.on(Hls.Events.FRAG_LOADED, () => {
    fragments += 1;
    player.dataset.fragments = String(fragments);
  });
  hls.on(Hls.Events.ERROR, (_event, data) => {
    if (!data.fatal) return;
    player.dataset.manifest = player.dataset.manifest === "parsed" ? "parsed" : "failed";
    showError($("player-error"), `playback: ${data.type} ${data.details}${data.response ? ` (HTTP ${data.response.code})` : ""}`);
    stopPlayback({ keepPanel: true });
  });
  hls.loadSource(cfg.apiUrl + path);
  hls.attachMedia(video);
  log(`playing ${short(id)}: ${segments} segment(s)`);
  addCaptionTracks(id).catch((err) => showError($("player-error"), err.message));
}

// The recording's captions (live transcription started with this recording): one WebVTT <track> per language and
// agent, presigned URLs from GET /recordings/{id}/captions, on the recording's time base; the first one shown.
async function addCaptionTracks(id) {
  const owner = session;
  const listing = await api("GET", `/recordings/${encodeURIComponent(id)}/captions`);
  if (owner !== session || $("player").dataset.recording !== id) return;
  const video = $("player-video");
  for (const old of video.querySelectorAll("track")) old.remove();
  listing.tracks.forEach((t, index) => {
    const track = document.createElement("track");
    track.kind = "captions";
    track.srclang = t.language;
    track.label = `${t.language} · ${short(t.agent_id)}`;
    track.src = t.url;
    if (index === 0) track.default = true;
    track.addEventListener("load", () => {
      $("player").dataset.captionCues = String(track.track.cues ? track.track.cues.length : 0);
    });
    video.append(track);
    if (index === 0) track.track.mode = "showing";
  });
  $("player").dataset.captionTracks = String(listing.tracks.length);
  $("player-captions").hidden = !listing.tracks.length;
  $("player-captions").textContent = `captions: ${listing.tracks.map((t) => t.language).join(", ")}`;
}

function stopPlayback({ keepPanel = false } = {}) {
  if (state.hls) {
    state.hls.destroy();
    state.hls = null;
  }
  const video = $("player-video");
  video.pause();
  for (const track of video.querySelectorAll("track")) track.remove();
  video.removeAttribute("src");
  video.load();
  $("player-captions").hidden = true;
  if (!keepPanel) {
    $("player").hidden = true;
    $("player-status").textContent = "";
  }
}

function onPlayerTime() {
  const video = $("player-video");
  if (!state.hls) return;
  $("player").dataset.currentTime = String(video.currentTime);
}

// ---- live captions (admins): a transcription of the channel, its captions read as they land -------------
// POST /transcriptions starts Agora's Real-Time STT in the recordings box's channel. When the channel has a
// recording running, the transcription is started with its recording_id: Agora writes the WebVTT files beside the
// recording, and GET /recordings/{id}/captions lists them (presigned). The page polls the transcription's state
// (GET /transcriptions/{id}) and that list, and fetches the track of its language when the file has grown. In a real
// call, the Agora Web SDK also receives the captions as data-stream messages (not done here: docs/web-client.md).
const TX_ACTIVE = ["REQUESTED", "STARTING", "RUNNING", "RECOVERING", "STOPPING"];
const TX_POLL_MS = 1500;
const TX_SHOWN = 8; // the newest caption lines on screen

function freshTx() {
  return { view: null, channel: null, recordingId: null, timer: null, size: -1, cues: [], seq: 0 };
}

// A WebVTT document (agorakit.captions.to_webvtt): cues with the speaker as a voice span (<v 1001>text).
function parseVtt(text) {
  const cues = [];
  for (const block of String(text).replace(/\r\n?/g, "\n").split(/\n\n+/)) {
    const lines = block.split("\n").filter(Boolean);
    const at = lines.findIndex((line) => line.includes("-->"));
    if (at < 0) continue;
    const [start, end] = lines[at].split("-->").map((part) => part.trim().split(/\s+/)[0]);
    const body = lines.slice(at + 1).join(" ");
    const voice = body.match(/^<v ([^>]*)>(.*)$/);
    const unescape = (s) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
    cues.push({ start, end, who: voice ? voice[1] : "", text: unescape(voice ? voice[2] : body) });
  }
  return cues;
}

function txActive() {
  return Boolean(state.tx.view) && TX_ACTIVE.includes(state.tx.view.status);
}

function renderTx() {
  const tx = state.tx;
  const view = tx.view;
  const badge = $("tx-state");
  badge.hidden = !view;
  if (view) {
    badge.textContent = view.status;
    badge.className = `badge ${view.status}`;
  }
  if (!isBusy($("tx-start"))) $("tx-start").disabled = txActive();
  $("tx-start").hidden = txActive();
  $("tx-stop").hidden = !txActive();
  if (!isBusy($("tx-stop"))) $("tx-stop").disabled = !txActive() || view.status === "STOPPING";
  $("tx-captions").replaceChildren(...tx.cues.slice(-TX_SHOWN).map((cue) => {
    const item = document.createElement("li");
    const who = document.createElement("span");
    who.className = "cap-who";
    who.textContent = cue.who ? `uid ${cue.who}` : "";
    item.append(who, " ", cue.text);
    item.title = `${cue.start} → ${cue.end}`;
    return item;
  }));
  $("tx-captions").dataset.cues = String(tx.cues.length);
  if (!view) {
    $("tx-note").textContent = "No transcription in this channel.";
  } else if (!tx.recordingId) {
    $("tx-note").textContent = `transcription ${short(view.id)}: started without a recording; its captions are `
      + "written under transcripts/ in the bucket (start a recording first to see them here).";
  } else {
    const state_ = txActive() ? "captions appear as Agora writes them" : "the captions it wrote";
    $("tx-note").textContent = `transcription ${short(view.id)} · with recording ${short(tx.recordingId)} · ${state_}`
      + ` · ${tx.cues.length} line(s) · $${view.cost_per_hour_usd}/h`;
  }
}

function applyTx(view, { source }) {
  const tx = state.tx;
  const before = tx.view;
  if (before && before.id === view.id && before.status === view.status) {
    tx.view = view;
    return;
  }
  if (!before || before.id !== view.id) {
    tx.size = -1;
    tx.cues = [];
    log(`transcription ${short(view.id)} in ${view.channel}: ${view.status} (${source})`);
  } else {
    log(`transcription ${short(view.id)}: ${before.status} → ${view.status}`);
  }
  tx.view = view;
  tx.recordingId = view.recording_id || null;
  renderTx();
}

// The captions so far: the recording's caption files (presigned), the track of the chosen language, when it grew.
async function readCaptions() {
  const tx = state.tx;
  if (!tx.recordingId) return;
  const owner = session;
  const language = tx.view && tx.view.languages ? tx.view.languages[0] : $("tx-language").value.trim();
  const listing = await api("GET", `/recordings/${encodeURIComponent(tx.recordingId)}/captions`);
  if (owner !== session) return;
  const agents = new Set((tx.view && tx.view.agents) || []);
  // one file per agent of the transcription (a restart adds one): the newest of ours in this language
  const tracks = listing.tracks.filter((t) => t.language === language && (!agents.size || agents.has(t.agent_id)));
  const size = tracks.reduce((sum, t) => sum + t.size, 0);
  if (!tracks.length || size === tx.size) return;
  const texts = await Promise.all(tracks.map((t) => fetch(t.url).then((r) => {
    if (!r.ok) throw new Error(`captions ${t.file}: HTTP ${r.status}`);
    return r.text();
  })));
  if (owner !== session) return;
  tx.size = size;
  const cues = texts.flatMap(parseVtt);
  if (cues.length !== tx.cues.length) log(`captions: ${cues.length} line(s) in ${language}`);
  tx.cues = cues;
  renderTx();
}

async function pollTx() {
  const tx = state.tx;
  const owner = session;
  const seq = tx.seq;
  clearTimeout(tx.timer);
  tx.timer = null;
  try {
    if (tx.view) {
      const view = await api("GET", `/transcriptions/${encodeURIComponent(tx.view.id)}`);
      if (owner !== session || seq !== tx.seq) return;
      applyTx(view, { source: "poll" });
    }
    await readCaptions();
    if (owner === session) showError($("tx-error"), "");
  } catch (err) {
    if (owner === session) showError($("tx-error"), err.message);
  }
  if (owner !== session || seq !== tx.seq) return;
  // after the end, one more read: the last files are written when the agent leaves
  const more = txActive() || (tx.view && !tx.settledReads);
  if (tx.view && !txActive()) tx.settledReads = (tx.settledReads || 0) + 1;
  $("tx-live").textContent = txActive() ? "live" : "";
  if (more && !document.hidden) tx.timer = setTimeout(pollTx, TX_POLL_MS);
}

function runningRecording(channel) {
  return [...state.recordings.values()].find((rec) => rec.channel === channel
    && ["REQUESTED", "RECORDING"].includes(rec.status) && !rec.stop_requested);
}

async function loadTx(channel) {
  if (!channel) return;
  const owner = session;
  const seq = ++state.tx.seq;
  const { transcriptions } = await api("GET", `/transcriptions?channel=${encodeURIComponent(channel)}&limit=5`);
  if (owner !== session || seq !== state.tx.seq) return;
  clearTimeout(state.tx.timer);
  state.tx = { ...freshTx(), seq, channel };
  const current = transcriptions.find((t) => TX_ACTIVE.includes(t.status)) || transcriptions[0];
  if (current) applyTx(current, { source: "list" });
  renderTx();
  if (current) pollTx();
}

async function startTx() {
  const channel = $("rec-channel").value.trim();
  if (!channel) throw new Error("name the channel to transcribe (the recordings box's channel)");
  const language = $("tx-language").value.trim();
  const recording = runningRecording(channel);
  const body = { channel, languages: [language] };
  if (recording) body.recording_id = recording.recording_id;
  const owner = session;
  const view = await api("POST", "/transcriptions", body);
  if (owner !== session) return;
  clearTimeout(state.tx.timer);
  state.tx = { ...freshTx(), seq: state.tx.seq + 1, channel };
  applyTx(view, { source: "start" });
  pollTx();
}

async function stopTx() {
  const tx = state.tx;
  if (!tx.view) return;
  const owner = session;
  const view = await api("DELETE", `/transcriptions/${encodeURIComponent(tx.view.id)}`);
  if (owner !== session) return;
  applyTx(view, { source: "stop" });
  tx.settledReads = 0;
  pollTx();
}

// ---- agents (admins): Conversational AI agents from a configured profile ---------------------------------
// POST /agents {channel, profile, remoteUids}; GET /agents/{id} polled until it has ended; speak, interrupt,
// DELETE (leave). Vendor settings stay in the profile (configuration and Secrets Manager): the page names it only.
// An API that does not serve /agents (404) hides the panel's actions and says so.
const AGENT_ENDED = ["STOPPED", "FAILED"];
const AGENT_POLL_MS = 1500;

function agentCard(id) {
  return $("agent-list").querySelector(`.agent-card[data-id="${CSS.escape(id)}"]`);
}

function newAgentCard(id) {
  const card = document.createElement("article");
  card.className = "rec-card agent-card";
  card.dataset.id = id;
  card.innerHTML = `
    <header><span class="rec-name agent-name"></span><span class="badge agent-state"></span></header>
    <dl>
      <dt>bot uid</dt><dd class="agent-bot"></dd>
      <dt>listens to</dt><dd class="agent-remote"></dd>
      <dt>uptime</dt><dd class="agent-uptime"></dd>
      <dt>history</dt><dd class="agent-history"></dd>
      <dt>last error</dt><dd class="agent-last-error"></dd>
      <dt>agent</dt><dd class="agent-id muted"></dd>
    </dl>
    <div class="agent-speak"><input class="agent-text" maxlength="512" placeholder="say something">
      <button class="agent-say">Speak</button></div>
    <div class="actions">
      <button class="agent-interrupt secondary">Interrupt</button>
      <button class="agent-leave danger">Leave</button>
    </div>
    <p class="error agent-card-error" role="alert" hidden></p>`;
  const error = card.querySelector(".agent-card-error");
  const say = card.querySelector(".agent-say");
  say.onclick = () => action(say, "Speaking…", error, () => speakAgent(id, card.querySelector(".agent-text").value));
  const interrupt = card.querySelector(".agent-interrupt");
  interrupt.onclick = () => action(interrupt, "Interrupting…", error, () => interruptAgent(id));
  const leave = card.querySelector(".agent-leave");
  leave.onclick = () => action(leave, "Leaving…", error, () => leaveAgent(id));
  return card;
}

function renderAgent(agent) {
  let card = agentCard(agent.agentId);
  if (!card) {
    card = newAgentCard(agent.agentId);
    $("agent-list").prepend(card);
  }
  card.dataset.state = agent.state;
  const set = (selector, text) => { card.querySelector(selector).textContent = text; };
  set(".agent-name", `${agent.channel} · ${agent.profile}`);
  const badge = card.querySelector(".agent-state");
  badge.textContent = agent.state;
  badge.className = `badge agent-state ${agent.state}`;
  set(".agent-bot", String(agent.botUid));
  set(".agent-remote", (agent.remoteUids || []).join(", "));
  set(".agent-uptime", duration(agent.uptimeSeconds) + (AGENT_ENDED.includes(agent.state) ? "" : " so far"));
  set(".agent-history", agent.history ? `${agent.history.turns} turn(s) kept` : "-");
  const error = agent.lastError;
  set(".agent-last-error", error ? [error.step, error.httpStatus || error.code, error.reason].filter(Boolean).join(" · ") : "-");
  set(".agent-id", agent.agentId);
  const running = agent.state === "RUNNING";
  const ended = AGENT_ENDED.includes(agent.state);
  for (const selector of [".agent-say", ".agent-interrupt"]) {
    const button = card.querySelector(selector);
    if (!isBusy(button)) button.disabled = !running;
  }
  const leave = card.querySelector(".agent-leave");
  if (!isBusy(leave)) leave.disabled = ended || agent.state === "STOPPING";
}

function applyAgent(agent, { source }) {
  const before = state.agents.byId.get(agent.agentId);
  state.agents.byId.set(agent.agentId, agent);
  if (!before) log(`agent ${short(agent.agentId)} (${agent.profile}) in ${agent.channel}: ${agent.state} (${source})`);
  else if (before.state !== agent.state) log(`agent ${short(agent.agentId)}: ${before.state} → ${agent.state}`);
  renderAgent(agent);
  scheduleAgentPoll();
}

function scheduleAgentPoll() {
  const agents = state.agents;
  if (agents.timer || document.hidden) return;
  const live = [...agents.byId.values()].filter((a) => !AGENT_ENDED.includes(a.state));
  if (!live.length) return;
  const owner = session;
  agents.timer = setTimeout(async () => {
    agents.timer = null;
    if (owner !== session) return;
    try {
      const views = await Promise.all(live.map((a) => api("GET", `/agents/${encodeURIComponent(a.agentId)}`)));
      if (owner !== session) return;
      for (const view of views) applyAgent(view, { source: "poll" });
      showError($("agent-error"), "");
    } catch (err) {
      if (owner === session) showError($("agent-error"), err.message);
    }
    if (owner === session) scheduleAgentPoll();
  }, AGENT_POLL_MS);
}

function agentsUnavailable(err) {
  state.agents.available = false;
  $("agent-start").disabled = true;
  $("agent-note").textContent = `This API does not serve /agents (${err.status}): see docs/agents.md.`;
  log("agents: this API has no /agents");
}

async function loadAgents() {
  const channel = $("agent-channel").value.trim();
  const owner = session;
  if (!channel) return; // being typed
  if (cfg.localEvents && state.agents.available === null) {
    // the local stack lists its routes: a stack without /agents is told apart without a 404 in the console
    const { routes } = await api("GET", "/local/routes", undefined, { auth: false });
    if (owner !== session) return;
    if (!routes.some((r) => r.route === "POST /agents")) return agentsUnavailable({ status: "not in /local/routes" });
  }
  let answer;
  try {
    answer = await api("GET", `/agents?channel=${encodeURIComponent(channel)}&active=true`);
  } catch (err) {
    if (owner === session && (err.status === 404 || err.status === 405)) return agentsUnavailable(err);
    throw err;
  }
  if (owner !== session) return;
  state.agents.available = true;
  $("agent-note").textContent = "";
  for (const agent of answer.agents) applyAgent(agent, { source: "list" });
}

async function startAgent() {
  const remoteUids = $("agent-uids").value.split(/[\s,]+/).filter(Boolean).map(Number);
  const body = { channel: $("agent-channel").value.trim(), profile: $("agent-profile").value.trim(), remoteUids };
  const owner = session;
  const agent = await api("POST", "/agents", body);
  if (owner === session) applyAgent(agent, { source: "start" });
}

async function speakAgent(id, text) {
  await api("POST", `/agents/${encodeURIComponent(id)}/speak`, { text });
  log(`agent ${short(id)}: asked to say "${text}"`);
}

async function interruptAgent(id) {
  await api("POST", `/agents/${encodeURIComponent(id)}/interrupt`);
  log(`agent ${short(id)}: interrupted`);
}

async function leaveAgent(id) {
  const owner = session;
  const agent = await api("DELETE", `/agents/${encodeURIComponent(id)}`);
  if (owner === session) applyAgent(agent, { source: "leave" });
}

// ---- wiring --------------------------------------------------------------------------------------
function updateControls() {
  const signedIn = Boolean(state.idToken);
  $("signout-btn").hidden = !signedIn;
  $("signin-forms").hidden = signedIn; // signed in: who, and the way out, only
  if (!isBusy($("mint-btn"))) $("mint-btn").disabled = !signedIn;
  $("join-btn").hidden = !cfg.realAgora || Boolean(state.call);
  if (!isBusy($("join-btn"))) $("join-btn").disabled = !signedIn;
  $("leave-btn").hidden = !state.call;
  $("rec-empty").hidden = state.recordings.size > 0;
  if (!isBusy($("agent-start"))) $("agent-start").disabled = !signedIn || state.agents.available === false;
}

function init() {
  $("api-url").textContent = cfg.apiUrl || "(not configured: edit config.js)";
  const zone = timeFormat.formatToParts(new Date()).find((part) => part.type === "timeZoneName")?.value || "";
  $("time-zone").textContent = `your time zone, ${zone === TIME_ZONE || !zone ? TIME_ZONE : `${TIME_ZONE} (${zone})`}`;
  if (cfg.signIn === "local") {
    $("signin-local").hidden = false;
    for (const user of cfg.localUsers) {
      const option = document.createElement("option");
      option.value = user.username;
      option.textContent = `${user.username} (${user.groups.join(", ") || "no group"})`;
      $("signin-user").append(option);
    }
  } else if (cfg.oidc) {
    $("signin-oidc").hidden = false;
  }
  const signinError = $("signin-error");
  $("signin-btn").onclick = () => action($("signin-btn"), "Signing in…", signinError, signInLocal);
  $("oidc-btn").onclick = () => action($("oidc-btn"), "Redirecting…", signinError, signInOidc);
  $("paste-btn").onclick = () => action($("paste-btn"), "Checking…", signinError,
    async () => setSession($("paste-token").value.trim()));
  $("signout-btn").onclick = () => signOut();
  $("mint-btn").onclick = () => action($("mint-btn"), "Minting…", $("token-error"), getTokens);
  $("join-btn").onclick = () => action($("join-btn"), "Joining…", $("token-error"), joinCall);
  $("leave-btn").onclick = () => action($("leave-btn"), "Leaving…", $("token-error"), leaveCall);
  $("rec-start").onclick = () => action($("rec-start"), "Starting…", $("rec-error"), startRecording);
  const refresh = () => action($("rec-refresh"), "Refreshing…", $("rec-error"),
    () => loadRecordings({ reason: "refresh" }));
  $("rec-refresh").onclick = refresh;
  $("rec-channel").onchange = () => {
    if (!isAdmin() || !$("rec-channel").value.trim()) return;
    refresh();
    loadTx($("rec-channel").value.trim()).catch((err) => showError($("tx-error"), err.message));
  };
  $("tx-start").onclick = () => action($("tx-start"), "Starting…", $("tx-error"), startTx);
  $("tx-stop").onclick = () => action($("tx-stop"), "Stopping…", $("tx-error"), stopTx);
  $("agent-start").onclick = () => action($("agent-start"), "Starting…", $("agent-error"), startAgent);
  $("agent-channel").onchange = () => {
    if (isAdmin()) loadAgents().catch((err) => showError($("agent-error"), err.message));
  };
  for (const profile of cfg.agentProfiles) {
    const option = document.createElement("option");
    option.value = profile;
    $("agent-profiles").append(option);
  }
  if (cfg.agentProfiles.length) $("agent-profile").value = cfg.agentProfiles[0];
  $("player-close").onclick = () => stopPlayback();
  $("player-video").addEventListener("timeupdate", onPlayerTime);
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      clearTimeout(state.pollTimer);
      state.pollTimer = null;
      clearTimeout(state.tx.timer);
      clearTimeout(state.agents.timer);
      state.agents.timer = null;
      stopEvents();
      if (needsPolling()) $("rec-live").textContent = "paused while the page is hidden";
    } else if (isAdmin()) {
      loadRecordings({ reason: "poll" }).catch((err) => showError($("rec-error"), err.message))
        .finally(() => schedulePoll({ reset: true }));
      followEvents();
      if (state.tx.view) pollTx();
      scheduleAgentPoll();
    }
  });
  if (cfg.realAgora) {
    // a real App ID: the Agora Web SDK joins the call with the minted token (hidden with the emulator)
    loadAgoraSdk().then(() => { $("join-btn").dataset.sdk = "loaded"; })
      .catch((err) => showError($("token-error"), err.message));
  }
  updateControls();
  finishOidc().then((done) => {
    const saved = sessionStorage.getItem("idToken");
    if (!done && saved && decodeJwt(saved).exp > Date.now() / 1000) setSession(saved);
  }).catch((err) => showError(signinError, err.message));
}

init();
