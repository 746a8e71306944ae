// agora-serverless web example: plain JavaScript, no build step, no dependency.
// The token lifecycle is the Agora Web SDK's: join with a token, and on "token-privilege-will-expire"
// mint a new one and call renewToken. When the page loads the SDK (window.AgoraRTC), its client is used;
// otherwise a stand-in client logs the same calls, so the lifecycle runs without camera or microphone.
"use strict";

const cfg = Object.assign(
  { renewBeforeSeconds: 30, groupsClaim: "cognito:groups", adminGroup: "admins", localUsers: [] },
  window.AGORA_SERVERLESS_CONFIG || {},
);
const $ = (id) => document.getElementById(id);
const state = { idToken: null, claims: null, tokens: null, timer: null, renewals: 0, renewing: false };

function log(message) {
  const item = document.createElement("li");
  item.textContent = `${new Date().toLocaleTimeString()} ${message}`;
  $("log").prepend(item);
}

function showError(message) {
  $("error").textContent = message || "";
  $("error").hidden = !message;
  if (message) log(`error: ${message}`);
}

// ---- the API ------------------------------------------------------------------------------------
async function api(method, path, body, { auth = true } = {}) {
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (auth) headers.authorization = `Bearer ${state.idToken}`;
  let response;
  try {
    response = await fetch(cfg.apiUrl + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    // a CORS refusal and an unreachable API look the same to a page: say both
    throw new Error(`${method} ${path}: the browser refused the call or could not reach the API (${err.message}); `
      + `is this page's origin ${location.origin} in the API's CORS origins (corsOrigins, --cors-origins)?`);
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!response.ok) {
    const detail = (data && ((data.error && data.error.message) || data.message)) || text;
    throw new Error(`${method} ${path}: HTTP ${response.status} ${detail}`);
  }
  return data;
}

// ---- sign-in ------------------------------------------------------------------------------------
function decodeJwt(token) {
  const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(part.padEnd(Math.ceil(part.length / 4) * 4, "="));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
}

function groupsOf(claims) {
  const value = claims[cfg.groupsClaim];
  if (Array.isArray(value)) return value.map(String);
  return value ? [String(value)] : [];
}

function setSession(idToken) {
  const claims = decodeJwt(idToken);
  state.idToken = idToken;
  state.claims = claims;
  sessionStorage.setItem("idToken", idToken);
  const groups = groupsOf(claims);
  $("signed-in").textContent = claims["cognito:username"] || claims.email || claims.sub;
  $("groups").textContent = `groups: ${groups.join(", ") || "none"}; ID token expires ${
    new Date(claims.exp * 1000).toLocaleTimeString()}`;
  $("mint-btn").disabled = false;
  $("signout-btn").hidden = false;
  $("admin-section").hidden = !groups.includes(cfg.adminGroup);
  log(`signed in as ${$("signed-in").textContent}`);
  if (!$("admin-section").hidden) refreshRecordings().catch((err) => showError(err.message));
}

function signOut() {
  clearTimeout(state.timer);
  Object.assign(state, { idToken: null, claims: null, tokens: null, timer: null });
  sessionStorage.removeItem("idToken");
  $("signed-in").textContent = "no";
  $("groups").textContent = "";
  $("mint-btn").disabled = true;
  $("signout-btn").hidden = true;
  $("admin-section").hidden = true;
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

// ---- tokens: join, and renew before expiry ----------------------------------------------------------
function standInClient(name) {
  const handlers = {};
  return {
    on(event, handler) { handlers[event] = handler; },
    async join(appId, channel, token, uid) { log(`${name}.join(${channel}, uid ${uid}) with a new token`); },
    async renewToken(token) { log(`${name}.renewToken(${token.slice(0, 12)}...)`); },
  };
}

const rtc = window.AgoraRTC ? window.AgoraRTC.createClient({ mode: "live", codec: "vp8" }) : standInClient("rtc");
const rtm = standInClient("rtm"); // the RTM SDK's renewToken takes the RTM token the same way

function showTokens(tokens) {
  $("uid").textContent = String(tokens.uid);
  $("rtc-token").textContent = tokens.rtc_token;
  $("rtm-token").textContent = tokens.rtm_token || "-";
  $("rtm-user").textContent = tokens.rtm_user_id || "-";
  $("expires-at").textContent = new Date(tokens.expires_at * 1000).toLocaleTimeString();
  $("expires-at").dataset.epoch = String(tokens.expires_at);
  $("renewals").textContent = String(state.renewals);
}

function mint() {
  return api("POST", "/tokens", {
    channel: $("channel").value, role: $("role").value, ttl: Number($("ttl").value), rtm: $("rtm").checked,
  });
}

function scheduleRenewal(tokens) {
  clearTimeout(state.timer);
  const now = Date.now() / 1000;
  const lifetime = tokens.expires_at - tokens.issued_at;
  // like the SDK's token-privilege-will-expire (30 s before); for very short tokens, at half their life
  const lead = Math.min(cfg.renewBeforeSeconds, lifetime / 2);
  const delay = Math.max(0.5, tokens.expires_at - lead - now);
  $("renew-at").textContent = new Date((now + delay) * 1000).toLocaleTimeString();
  state.timer = setTimeout(() => onTokenPrivilegeWillExpire().catch((err) => showError(err.message)), delay * 1000);
}

async function join() {
  showError("");
  const tokens = await mint();
  state.tokens = tokens;
  state.renewals = 0;
  showTokens(tokens);
  await rtc.join(tokens.app_id, tokens.channel, tokens.rtc_token, tokens.uid);
  scheduleRenewal(tokens);
}

async function onTokenPrivilegeWillExpire() {
  if (state.renewing || !state.tokens) return;
  state.renewing = true;
  try {
    const tokens = await mint();
    await rtc.renewToken(tokens.rtc_token);
    if (tokens.rtm_token) await rtm.renewToken(tokens.rtm_token);
    state.tokens = tokens;
    state.renewals += 1;
    showTokens(tokens);
    log(`renewed: uid ${tokens.uid}, expires ${new Date(tokens.expires_at * 1000).toLocaleTimeString()}`);
    scheduleRenewal(tokens);
  } finally {
    state.renewing = false;
  }
}
rtc.on("token-privilege-will-expire", () => onTokenPrivilegeWillExpire().catch((err) => showError(err.message)));

// ---- recordings (admins) -------------------------------------------------------------------------
function cell(text) {
  const td = document.createElement("td");
  td.textContent = text == null ? "-" : String(text);
  return td;
}

async function refreshRecordings() {
  const channel = encodeURIComponent($("rec-channel").value);
  const { recordings } = await api("GET", `/recordings?channel=${channel}`);
  const body = $("rec-list");
  body.replaceChildren();
  for (const rec of recordings) {
    const row = document.createElement("tr");
    row.dataset.id = rec.recording_id;
    row.append(cell(rec.recording_id), cell(rec.channel), cell(rec.status), cell(rec.started_at));
    const actions = document.createElement("td");
    const stop = document.createElement("button");
    stop.textContent = "Stop";
    stop.className = "rec-stop";
    stop.disabled = ["STOPPED", "FAILED"].includes(rec.status);
    stop.onclick = () => stopRecording(rec.recording_id).catch((err) => showError(err.message));
    const open = document.createElement("button");
    // the playlist when the API offers one; until then the recording's JSON (files, durations)
    open.textContent = rec.playlist_url ? "Playlist" : "Recording JSON";
    open.className = "rec-open";
    open.onclick = () => openRecording(rec).catch((err) => showError(err.message));
    actions.append(stop, " ", open);
    row.append(actions);
    body.append(row);
  }
  log(`${recordings.length} recording(s) in ${$("rec-channel").value}`);
}

async function startRecording() {
  const rec = await api("POST", "/recordings", { channel: $("rec-channel").value });
  log(`recording ${rec.recording_id} ${rec.status}`);
  await refreshRecordings();
}

async function stopRecording(id) {
  const rec = await api("POST", `/recordings/${encodeURIComponent(id)}/stop`);
  log(`stop of ${id}: ${rec.status}`);
  await refreshRecordings();
}

async function openRecording(rec) {
  if (rec.playlist_url) {
    window.open(rec.playlist_url, "_blank", "noopener");
    return;
  }
  const detail = await api("GET", `/recordings/${encodeURIComponent(rec.recording_id)}`);
  $("rec-detail").textContent = JSON.stringify(detail, null, 2);
  $("rec-detail").hidden = false;
}

// ---- wiring --------------------------------------------------------------------------------------
function guard(fn) {
  return () => fn().catch((err) => showError(err.message));
}

function init() {
  $("api-url").textContent = cfg.apiUrl || "(not configured: edit config.js)";
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
  $("signin-btn").onclick = guard(signInLocal);
  $("oidc-btn").onclick = guard(signInOidc);
  $("paste-btn").onclick = guard(async () => setSession($("paste-token").value.trim()));
  $("signout-btn").onclick = signOut;
  $("mint-btn").onclick = guard(join);
  $("rec-start").onclick = guard(startRecording);
  $("rec-refresh").onclick = guard(refreshRecordings);
  finishOidc().then((done) => {
    const saved = sessionStorage.getItem("idToken");
    if (!done && saved && decodeJwt(saved).exp > Date.now() / 1000) setSession(saved);
  }).catch((err) => showError(err.message));
}

init();
