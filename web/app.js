// SPDX-License-Identifier: ISC
// boxoffice box-office page: pick a venue and an event, watch its zones,
// open a zone's live seat map, choose seats and buy them, look a ticket up.
//
// A plain ES module, no dependencies, nothing fetched from elsewhere.  Every
// value that comes from the API reaches the page through textContent or
// setAttribute, never as HTML (the page also runs under a strict
// Content-Security-Policy: no inline script or style).

const REFRESH_MS = 1500;      // seat map poll while the page is visible
const STATS_MS = 4000;        // zone table and chart poll
const MAX_SEATS = 10;         // seats one purchase may ask for

const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';

const state = {
  venues: [], event: null, zone: null, map: null,
  buttons: [],                      // the seat map's buttons, [row - 1][column - 1]
  selected: new Map(),              // "row:col" -> {row, column}
  lost: [],                         // chosen seats someone else bought meanwhile
  gen: 0,                           // bumps when event or zone changes
  timer: 0, lastStats: 0, busy: false,
  features: {},                     // round-2 endpoints found on the server
  tokens: new Map(),                // ticketId -> cancelToken, this page's life only
};

// ---------------------------------------------------------------- helpers

// el('p', {class: 'x'}, 'text', child): builds an element; strings become
// text nodes, never markup.
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}

// api(method, path, body, key): {status, body, retryAfter}; status 0 when
// the server was not reached, retryAfter the Retry-After header's seconds
// (0 without one).  key, when given, is sent as the Idempotency-Key.  Never
// throws.
async function api(method, path, body, key) {
  const init = { method, cache: 'no-store', headers: { Accept: 'application/json' } };
  if (key) init.headers['Idempotency-Key'] = key;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    return { status: 0, body: { error: 'NETWORK', message: 'the server could not be reached' } };
  }
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  const after = Number(res.headers.get('Retry-After'));   // a date is NaN: not used
  return { status: res.status, body: data, retryAfter: after > 0 ? after : 0 };
}

const seg = encodeURIComponent;
const seatKey = (s) => `${s.row}:${s.column}`;
const seatName = (s) => `row ${s.row} seat ${s.column}`;
const money = (v) => (typeof v === 'number' ? v.toFixed(2) : String(v));

function when(iso) {
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

// clock(iso): "10:10" today, "2 Dec, 10:10" another day (local time)
function clock(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  const t = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  return d.toDateString() === new Date().toDateString() ? t
    : `${d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' })}, ${t}`;
}

// until(iso): "in 4 min", "in 40 s", "in 3 h", "in 2 days" (from this clock)
function until(iso) {
  const s = Math.max(0, Math.ceil((Date.parse(iso) - Date.now()) / 1000));
  if (s < 60) return `in ${s} s`;
  if (s < 3600) return `in ${Math.ceil(s / 60)} min`;
  if (s < 172800) return `in ${Math.round(s / 3600)} h`;
  return `in ${Math.round(s / 86400)} days`;
}

const opens = (iso) => `opens at ${clock(iso)} (${until(iso)})`;
const passed = (iso) => iso != null && Date.parse(iso) <= Date.now();

function list(items) { return el('ul', {}, ...items.map((t) => el('li', {}, t))); }

// say(kind, ...parts): the answer box ('ok' or 'error'), read out by screen readers
function say(kind, ...parts) {
  const a = $('answer');
  a.className = kind;
  a.replaceChildren(...parts.map((p) => (p instanceof Node ? p : el('p', {}, p))));
}

// explain(r, seats, zone): what a definite refusal means for these seats
// of that zone, in words (an answer whose outcome is unknown: unknownText)
function explain(r, seats, zone) {
  const b = r.body || {};
  const what = seats.map(seatName).join(', ');
  switch (b.error) {
  case 'SEAT_TAKEN': {
    const lost = Array.isArray(b.seats) && b.seats.length ? b.seats : seats;
    return `Someone else bought ${lost.map(seatName).join(', ')} first.`;
  }
  case 'ROW_SOLD_OUT': return `Row ${seats[0].row} sold out before ${what} could be bought.`;
  case 'ZONE_SOLD_OUT': return `Zone ${zone} sold out before ${what} could be bought.`;
  case 'NOT_ENOUGH_ADJACENT': return 'No row has that many free seats side by side.';
  case 'NOT_ON_SALE': return `Zone ${zone} is not on sale yet: ${b.opensAt ? opens(b.opensAt) : 'no opening time set'}.`;
  case 'SALE_CLOSED': return 'Sales for this event are closed.';
  case 'EVENT_CANCELLED': return 'This event was cancelled: nothing can be bought.';
  case 'INVALID_SEAT': return `${what}: no such seat in this zone.`;
  case 'NOT_FOUND': return 'This event or zone no longer exists.';
  case 'UNAVAILABLE':
    // only the responder's 503 that says "nothing was sold" comes here
    // (nothingSold); what comes after ';' asks the client to act ("try
    // again", "the hold stands"): this page gave its hold back and says so
    return `${what[0].toUpperCase()}${what.slice(1)} not bought: the box office is unavailable right now ` +
           `(${(b.message || 'try again in a moment').split(';')[0]}).`;
  default:
    return `${what}: ${b.message || 'the server answered ' + r.status}.`;
  }
}

// ------------------------------------------------------- venue and event

async function loadVenues() {
  const r = await api('GET', '/get/venues');
  const sel = $('venue');
  if (r.status !== 200 || !Array.isArray(r.body)) {
    sel.replaceChildren(el('option', { value: '' }, 'Venues unavailable'));
    say('error', `Could not load the venues: ${(r.body && r.body.message) || 'status ' + r.status}.`);
    return;
  }
  state.venues = r.body;
  sel.replaceChildren(el('option', { value: '' }, 'Choose a venue'),
    ...r.body.map((v) => el('option', { value: v.venueId }, `${v.name} (${v.venueId})`)));
  live('ready');
}

async function pickVenue() {
  const venueId = $('venue').value;
  const sel = $('event');
  closeEvent();
  if (!venueId) {
    sel.disabled = true;
    sel.replaceChildren(el('option', { value: '' }, 'Choose a venue first'));
    return;
  }
  const r = await api('GET', `/get/venues/${seg(venueId)}/events`);
  if (r.status !== 200 || !Array.isArray(r.body)) {
    say('error', `Could not load the events: ${(r.body && r.body.message) || 'status ' + r.status}.`);
    return;
  }
  sel.replaceChildren(el('option', { value: '' }, r.body.length ? 'Choose an event' : 'No events here'),
    ...r.body.map((e) => el('option', { value: e.eventId },
      `${e.name} — ${when(e.date)}${e.status === 'CANCELLED' ? ' (cancelled)' : ''}`)));
  sel.disabled = r.body.length === 0;
}

function closeEvent() {
  state.gen++;
  state.event = null;
  closeZone();
  for (const id of ['zones-section', 'stats-section']) $(id).hidden = true;
  $('event-info').replaceChildren();
  $('event-status').hidden = true;
}

async function pickEvent() {
  const eventId = $('event').value;
  closeEvent();
  if (!eventId) return;
  const gen = state.gen;
  const r = await api('GET', `/get/events/${seg(eventId)}`);
  if (gen !== state.gen) return;
  if (r.status !== 200 || !r.body) {
    say('error', `Could not load the event: ${(r.body && r.body.message) || 'status ' + r.status}.`);
    return;
  }
  const e = r.body;
  state.event = e;
  $('event-info').replaceChildren(el('strong', {}, e.name), ` · ${e.type} · ${when(e.date)}`);
  buildZones(e.zones || []);
  showSale();
  $('zones-section').hidden = false;
  $('stats-section').hidden = false;
  state.lastStats = 0;
  tick();
}

// ---------------------------------------------------------------- zones

// sale(zone): {open, text} -- may this zone be bought from now, and why
// not, from the event's status and closesAt and the zone's onSale and
// opensAt (the last answers of the API, counted down on this clock)
function sale(z) {
  const e = state.event || {};
  if (e.status === 'CANCELLED') return { open: false, text: 'cancelled' };
  if (passed(e.closesAt)) return { open: false, text: 'sale closed' };
  if (!z || z.onSale !== false) return { open: true, text: 'on sale' };
  if (z.opensAt && !passed(z.opensAt)) {
    return { open: false, text: `on sale at ${clock(z.opensAt)} (${until(z.opensAt)})`, soon: true };
  }
  return z.opensAt ? { open: true, text: 'on sale' } : { open: false, text: 'not on sale' };
}

const zoneOf = (zoneId) => ((state.event && state.event.zones) || []).find((z) => z.zoneId === zoneId);

// showSale: the event's status line, each zone's sale cell and the open
// zone's note; the Buy buttons follow (cheap: only changed text is set)
function showSale() {
  const e = state.event;
  if (!e) return;
  const st = $('event-status');
  const note = e.status === 'CANCELLED' ? 'This event was cancelled: nothing can be bought.'
    : passed(e.closesAt) ? `Sales for this event closed at ${clock(e.closesAt)}.`
    : e.closesAt ? `Sales close at ${clock(e.closesAt)}.` : '';
  if (st.textContent !== note) st.textContent = note;
  st.hidden = !note;
  st.classList.toggle('bad', e.status === 'CANCELLED' || passed(e.closesAt));
  for (const z of e.zones || []) {
    const cell = $(`zone-${z.zoneId}`) && $(`zone-${z.zoneId}`).querySelector('.sale');
    const s = sale(z);
    if (cell && cell.textContent !== s.text) cell.textContent = s.text;
    if (cell) cell.parentNode.classList.toggle('closed', !s.open);
  }
  const s = sale(zoneOf(state.zone));
  const why = s.open ? '' : s.soon ? `Not on sale yet: ${s.text}.`
    : e.status === 'CANCELLED' ? 'This event was cancelled: nothing can be bought.'
    : `Not on sale: ${s.text}.`;
  const n = $('sale-note');
  if (n.textContent !== why) n.textContent = why;
  n.hidden = !why;
  $('best').disabled = !s.open;
  showSelection();
}

// learn(r, ev, zone): what an answer to a purchase of that event's zone
// tells about its sale, kept until the next poll (ev is the event the
// purchase began with: the page may show another one by now)
function learn(r, ev, zone) {
  const b = r.body || {}, z = (ev.zones || []).find((x) => x.zoneId === zone);
  if (b.error === 'EVENT_CANCELLED') ev.status = 'CANCELLED';
  else if (b.error === 'SALE_CLOSED' && !passed(ev.closesAt)) ev.closesAt = new Date().toISOString();
  else if (b.error === 'NOT_ON_SALE' && z) Object.assign(z, { onSale: false, opensAt: b.opensAt || null });
}

// refreshEvent: status, closesAt and the zones' sale fields, polled with the stats
async function refreshEvent(gen) {
  if (gen !== state.gen || !state.event) return;
  const r = await api('GET', `/get/events/${seg(state.event.eventId)}`);
  if (gen !== state.gen || r.status !== 200 || !r.body) return;
  for (const k of ['status', 'closesAt', 'name', 'date']) state.event[k] = r.body[k];
  for (const nz of r.body.zones || []) {
    const z = zoneOf(nz.zoneId);
    if (z) Object.assign(z, { onSale: nz.onSale, opensAt: nz.opensAt });
  }
  showSale();
}

// One row per zone, built once per event; the counts are updated in place
// so that polling neither flickers nor moves the keyboard focus.
function buildZones(zones) {
  const body = $('zones').tBodies[0];
  body.replaceChildren(...zones.map((z) => {
    const open = el('button', { type: 'button', 'data-zone': z.zoneId, title: `Show the seats of zone ${z.zoneId}` },
      `Zone ${z.zoneId}`);
    open.addEventListener('click', () => openZone(z.zoneId));
    return el('tr', { id: `zone-${z.zoneId}` },
      el('th', { scope: 'row' }, open), el('td', { class: 'num' }, money(z.ticketPrice)),
      el('td', { class: 'num left' }, `${z.rowCount * z.colCount}`),
      el('td', { class: 'sale' }, sale(z).text));
  }));
}

// zone rows: seats left from the stats (persisted tickets), except the open
// zone's, which its live seat map gives
function updateZones(stats) {
  for (const z of stats.zones || []) {
    if (z.zoneId !== state.zone) showLeft(z.zoneId, z.capacity - z.sold, z.capacity);
  }
}

function showLeft(zoneId, left, capacity) {
  const tr = $(`zone-${zoneId}`);
  if (!tr) return;
  const cell = tr.querySelector('.left');
  const text = left > 0 ? `${left} of ${capacity}` : 'sold out';
  if (cell.textContent !== text) cell.textContent = text;
  tr.classList.toggle('soldout', left <= 0);
}

// -------------------------------------------------------------- seat map

async function openZone(zoneId) {
  closeZone();
  state.zone = zoneId;
  const gen = ++state.gen;
  for (const tr of $('zones').tBodies[0].rows) tr.classList.toggle('current', tr.id === `zone-${zoneId}`);
  $('h-map').textContent = `Seats of zone ${zoneId}`;
  $('map-section').hidden = false;
  await refreshMap(gen);
  showSale();
  const first = $('seats').querySelector('.seat:not(.taken)') || $('seats').querySelector('.seat');
  if (first) { setCursor(first); first.focus(); }
  schedule();
}

function closeZone() {
  state.zone = null;
  state.map = null;
  state.buttons = [];
  state.selected.clear();
  state.lost = [];
  $('seats').replaceChildren();
  $('map-section').hidden = true;
  showSelection();
}

async function refreshMap(gen) {
  if (state.zone == null || !state.event) return;
  const r = await api('GET', `/get/events/${seg(state.event.eventId)}/zones/${state.zone}/seats`);
  if (gen !== state.gen) return;
  if (r.status !== 200 || !r.body) {
    live(`seat map not updated: ${(r.body && r.body.message) || 'status ' + r.status}`);
    return;
  }
  const m = r.body;
  if (!state.map || state.map.rowCount !== m.rowCount || state.map.colCount !== m.colCount) buildMap(m);
  applyMap(m);
  state.map = m;
  live(`updated ${new Date().toLocaleTimeString()}`);
}

function seatLabel(s, taken, chosen) {
  return `Row ${s.row}, seat ${s.column}: ${taken ? 'sold' : chosen ? 'chosen' : 'free'}`;
}

// buildMap: one button per seat, once per zone (roving tabindex: only one
// seat is in the tab order, the arrow keys move between seats)
function buildMap(m) {
  const grid = $('seats');
  grid.style.setProperty('--cols', m.colCount);
  const kids = [];
  state.buttons = [];
  for (let row = 1; row <= m.rowCount; row++) {
    kids.push(el('span', { class: 'rowlabel', 'aria-hidden': 'true' }, `${row}`));
    const line = [];
    for (let column = 1; column <= m.colCount; column++) {
      const b = el('button', {
        type: 'button', class: 'seat free', tabindex: '-1', 'data-row': row, 'data-col': column,
        'aria-pressed': 'false', 'aria-label': seatLabel({ row, column }, false, false),
      });
      line.push(b);
      kids.push(b);
    }
    state.buttons.push(line);
  }
  grid.replaceChildren(...kids);
  const first = grid.querySelector('.seat');
  if (first) first.tabIndex = 0;
}

// applyMap: changes only the seats whose state changed (no flicker)
function applyMap(m) {
  const lost = [];
  for (const r of m.rows) {
    for (let c = 0; c < r.seats.length; c++) {
      const s = { row: r.row, column: c + 1 };
      const b = seatButton(s);
      if (!b) continue;
      const taken = r.seats[c] === '1';
      if (taken && state.selected.has(seatKey(s))) {
        state.selected.delete(seatKey(s));
        lost.push(s);
      }
      paintSeat(b, s, taken);
    }
  }
  showLeft(m.zoneId, m.remaining, m.rowCount * m.colCount);
  const z = zoneOf(m.zoneId);
  if (z && 'onSale' in m) Object.assign(z, { onSale: m.onSale, opensAt: m.opensAt });
  $('map-info').textContent = `${m.remaining} of ${m.rowCount * m.colCount} seats left ` +
    `(${m.rowCount} ${m.rowCount === 1 ? 'row' : 'rows'} × ${m.colCount} seats), live.`;
  if (lost.length) {
    state.lost.push(...lost);
    say('error', `Someone else just bought ${lost.map(seatName).join(', ')} first; removed from your choice.`);
    showSelection();
  }
}

function seatButton(s) {
  const line = state.buttons[s.row - 1];
  return line ? line[s.column - 1] : undefined;
}

function paintSeat(b, s, taken) {
  const chosen = !taken && state.selected.has(seatKey(s));
  const cls = taken ? 'seat taken' : chosen ? 'seat selected' : 'seat free';
  if (b.className === cls) return;
  b.className = cls;
  b.setAttribute('aria-pressed', chosen ? 'true' : 'false');
  b.setAttribute('aria-disabled', taken ? 'true' : 'false');
  b.setAttribute('aria-label', seatLabel(s, taken, chosen));
}

function toggleSeat(b) {
  const s = { row: Number(b.dataset.row), column: Number(b.dataset.col) };
  if (b.classList.contains('taken')) {
    say('error', `${seatName(s)} is already sold.`);
    return;
  }
  const k = seatKey(s);
  if (state.selected.has(k)) {
    state.selected.delete(k);
  } else if (state.selected.size >= MAX_SEATS) {
    say('error', `One purchase takes at most ${MAX_SEATS} seats.`);
    return;
  } else {
    state.selected.set(k, s);
  }
  paintSeat(b, s, false);
  showSelection();
}

function showSelection() {
  const seats = [...state.selected.values()];
  const price = state.event && state.zone != null
    ? (state.event.zones || []).find((z) => z.zoneId === state.zone) : null;
  $('selection').textContent = seats.length === 0 ? 'No seat chosen.'
    : `Chosen: ${seats.map(seatName).join(', ')}` +
      (price ? ` — ${money(seats.length * price.ticketPrice)} in total.` : '.');
  $('buy').disabled = seats.length === 0 || state.busy || !sale(zoneOf(state.zone)).open;
  $('clear').disabled = seats.length === 0;
  $('buy').textContent = seats.length > 1 ? `Buy ${seats.length} seats` : 'Buy';
}

function setCursor(b) {
  for (const o of $('seats').querySelectorAll('.seat[tabindex="0"]')) o.tabIndex = -1;
  b.tabIndex = 0;
}

// keyboard: arrows, Home/End, PageUp/PageDown move; Space/Enter (native
// button behaviour) chooses
function onSeatKey(ev) {
  const b = ev.target.closest('.seat');
  if (!b || !state.map) return;
  let row = Number(b.dataset.row), col = Number(b.dataset.col);
  const { rowCount, colCount } = state.map;
  switch (ev.key) {
  case 'ArrowLeft': col = Math.max(1, col - 1); break;
  case 'ArrowRight': col = Math.min(colCount, col + 1); break;
  case 'ArrowUp': row = Math.max(1, row - 1); break;
  case 'ArrowDown': row = Math.min(rowCount, row + 1); break;
  case 'Home': col = 1; break;
  case 'End': col = colCount; break;
  case 'PageUp': row = 1; break;
  case 'PageDown': row = rowCount; break;
  default: return;
  }
  ev.preventDefault();
  const next = seatButton({ row, column: col });
  if (next) { setCursor(next); next.focus(); }
}

// best available N, chosen here from the live map: the lowest row with N
// free seats side by side, in it the block closest to the row's centre
// (a tie goes to the lower column) -- the rule of POST /orders "quantity"
function chooseBest() {
  const n = Number($('best-n').value);
  if (!state.map || !Number.isInteger(n) || n < 1 || n > MAX_SEATS) {
    say('error', `Choose between 1 and ${MAX_SEATS} seats.`);
    return;
  }
  const cols = state.map.colCount;
  for (const r of state.map.rows) {
    let best = -1, bestDist = Infinity;
    for (let c = 0; c + n <= cols; c++) {
      if (r.seats.slice(c, c + n).includes('1')) continue;
      const dist = Math.abs((c + n / 2) - cols / 2);
      if (dist < bestDist) { best = c; bestDist = dist; }
    }
    if (best >= 0) {
      state.selected.clear();
      state.lost = [];
      for (let c = best; c < best + n; c++) state.selected.set(seatKey({ row: r.row, column: c + 1 }), { row: r.row, column: c + 1 });
      applyMap(state.map);
      showSelection();
      say('ok', `Chose ${n} seats side by side in row ${r.row}. Press Buy to buy them.`);
      return;
    }
  }
  say('error', `No row has ${n} free seats side by side.`);
}

// ------------------------------------------------------------- purchase
//
// One Buy is one attempt with keys of its own (docs/api.md,
// "Idempotency-Key"): each of its POSTs carries an Idempotency-Key, one per
// request (a key is bound to one request: a hold and its confirm are two).
// A request whose outcome is unknown is sent again with the same key: the
// server answers what the first one did (its 201 again, a definite
// refusal, or 409 REQUEST_IN_PROGRESS while its order is not settled) and
// never buys twice.  Such an outcome is never told as "not bought".

const ASK_AGAIN_S = [1, 2, 3, 4, 5, 5];   // waits before each new try: ~20 s in all
const RETRY_AFTER_MAX_S = 5;              // a longer Retry-After is cut to this

// newKey(): 128 random bits in hex, the base of one attempt's keys
// (getRandomValues: randomUUID needs a secure context, and the page may be
// served over plain http)
function newKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// nothingSold(r): the responder's definite 503: it says "nothing was sold"
// and names no ticket, order or hold (docs/api.md: only the responder's
// 503 without them says so; the web servers' own 5xx promise nothing)
function nothingSold(r) {
  const b = r.body || {};
  return r.status === 503 && b.error === 'UNAVAILABLE' && typeof b.message === 'string' &&
    b.message.includes('nothing was sold') && !b.ticketId && !b.orderId && !b.holdId;
}

// outcome(r): 'done' (201; 200, the order a hold already became),
// 'unknown' (no answer; a 5xx but the responder's "nothing was sold"; 409
// REQUEST_IN_PROGRESS), else 'refused' (a definite answer: nothing bought)
function outcome(r) {
  const b = r.body || {};
  if (r.status === 201 || r.status === 200) return 'done';
  if (r.status === 409 && b.error === 'REQUEST_IN_PROGRESS') return 'unknown';
  if (r.status === 0 || r.status >= 500) return nothingSold(r) ? 'refused' : 'unknown';
  return 'refused';
}

const sleep = (ms) => new Promise((go) => setTimeout(go, ms));

// send(q, tell): sends q = {method, path, body, key}, and again with the
// same key while its outcome is unknown, ASK_AGAIN_S[i] seconds later or
// after the answer's Retry-After if that is longer (at most
// RETRY_AFTER_MAX_S); tell(r) is called before each wait.  Returns the last
// answer with r.outcome, and r.ids: the ticketId and orderId any answer
// named.
async function send(q, tell) {
  const ids = {};
  const ask = async () => {
    const a = await api(q.method, q.path, q.body, q.key);
    for (const k of ['ticketId', 'orderId']) if (a.body && typeof a.body[k] === 'string') ids[k] = a.body[k];
    return a;
  };
  let r = await ask();
  for (const s of ASK_AGAIN_S) {
    if (outcome(r) !== 'unknown') break;
    if (tell) tell(r);
    await sleep(1000 * Math.max(s, Math.min(r.retryAfter, RETRY_AFTER_MAX_S)));
    r = await ask();
  }
  r.outcome = outcome(r);
  r.ids = ids;
  return r;
}

const seatList = (seats) => seats.map(seatName).join(', ');
const were = (seats) => (seats.length > 1 ? 'were' : 'was');

// why(r): an answer in a few words
function why(r) {
  const b = r.body || {};
  if (r.status === 0) return 'the server could not be reached';
  if (b.error === 'REQUEST_IN_PROGRESS') return 'the purchase is still being completed';
  return b.message || `the server answered ${r.status}`;
}

// asking(p): what the page says while it asks again
const asking = (p) => (r) => say('ok', `No answer yet whether ${seatList(p.seats)} ${were(p.seats)} bought ` +
  `(${why(r)}): asking the box office again with the same request, which never buys twice…`);

// unknownText(r, seats): an outcome still unknown, in words, with the ids
// the answers gave
function unknownText(r, seats) {
  const ids = [r.ids && r.ids.orderId && `order ${r.ids.orderId}`,
               r.ids && r.ids.ticketId && `ticket ${r.ids.ticketId}`].filter(Boolean);
  return `The box office has not said whether ${seatList(seats)} ${were(seats)} bought (${why(r)}).` +
    (ids.length ? ` It may still issue ${ids.join(', ')}.` : '') +
    ' Do not buy again yet: check again in a moment, or look at the seat map and your tickets.';
}

// result(parts): a purchase's result for report(), every list present
const result = (o) => ({ bought: [], failed: [], unknown: [], orders: [], ...o });

function merge(res, r) {
  for (const k of ['bought', 'failed', 'unknown', 'orders']) res[k].push(...r[k]);
  return res;
}

// bought(r, seats): the result of a 201 or 200 with an order or a ticket
function bought(r, seats) {
  const o = r.body || {};
  const tickets = Array.isArray(o.tickets) ? o.tickets : o.ticketId ? [o] : null;
  if (!tickets) {
    return result({ unknown: [{ seats, text: `The box office answered ${r.status} for ${seatList(seats)}, ` +
      'but its answer could not be read. Do not buy again yet: look at the seat map.' }] });
  }
  if (o.cancelToken) for (const t of tickets) state.tokens.set(t.ticketId, o.cancelToken);
  return result({ bought: tickets, orders: o.orderId ? [o] : [] });
}

// has(feature, path): true or false once known, null while it is not.
// Asked once: GET on a POST-only path answers 405 where it exists and 404
// "no such path" where it does not (a purchase responder of round 1: one
// seat per POST /tickets, below).  Anything else (no answer, a 5xx) says
// neither: asked again next time, and nothing is bought meanwhile.
async function has(feature, path) {
  if (state.features[feature] === undefined) {
    const r = await api('GET', path);
    if (r.status === 405) state.features[feature] = true;
    else if (r.status === 404) state.features[feature] = false;
    else return null;
  }
  return state.features[feature];
}

const unasked = (p) => result({ failed: [{ seats: p.seats, text: 'The box office did not answer ' +
  'which purchases it offers, so nothing was sent. Try again in a moment.' }] });

const hold = (p) => ({ venueId: p.ev.venueId, eventId: p.ev.eventId, zoneId: p.zone,
                       seats: p.seats.map((s) => ({ row: s.row, column: s.column })) });

// buyKeyed(p, q, gaveUp): the result of q, a keyed request that buys
// p.seats (an order, a hold's confirm); after a definite refusal,
// gaveUp() first.  An unknown outcome leaves everything as it is and may
// be asked again (report's "Check again").
async function buyKeyed(p, q, gaveUp) {
  const r = await send(q, asking(p));
  if (r.outcome === 'done') return bought(r, p.seats);
  if (r.outcome === 'unknown') {
    return result({ unknown: [{ seats: p.seats, text: unknownText(r, p.seats), again: () => buyKeyed(p, q, gaveUp) }] });
  }
  if (gaveUp) await gaveUp();
  learn(r, p.ev, p.zone);
  return result({ failed: [{ seats: p.seats, text: explain(r, p.seats, p.zone) }] });
}

// buyOrder(p): one all-or-nothing order, held first where holds exist
async function buyOrder(p) {
  const holds = await has('holds', '/holds');
  if (holds === null) return unasked(p);
  if (!holds) return buyKeyed(p, { method: 'POST', path: '/orders', body: hold(p), key: `${p.key}-order` });
  const h = await send({ method: 'POST', path: '/holds', body: hold(p), key: `${p.key}-hold` }, asking(p));
  if (h.outcome !== 'done' || !h.body || !h.body.holdId) {
    // no confirm was sent: nothing is bought.  A hold still unknown that
    // names its id is deleted (204 if it was made, 404 if not); one that
    // names none ends at its expiry.
    const id = h.body && h.body.holdId;
    if (id) await api('DELETE', `/holds/${seg(id)}`);
    if (h.outcome === 'refused') {
      learn(h, p.ev, p.zone);
      return result({ failed: [{ seats: p.seats, text: explain(h, p.seats, p.zone) }] });
    }
    return result({ failed: [{ seats: p.seats, text: `${seatList(p.seats)}: the box office did not say ` +
      `whether they were held (${why(h)}), and nothing was bought.` +
      (id ? '' : ' If they were held, they are on sale again when the hold expires.') }] });
  }
  // a confirm refused leaves the hold standing (a 503 "nothing was sold;
  // the hold stands", an event cancelled since): the page does not confirm
  // it again, so gives the seats back now instead of at its expiry.  A
  // confirm whose outcome is unknown keeps it: the order may be made.
  const id = seg(h.body.holdId);
  return buyKeyed(p, { method: 'POST', path: `/holds/${id}/confirm`, key: `${p.key}-confirm` },
    () => api('DELETE', `/holds/${id}`));
}

const SALE_ERRORS = ['NOT_ON_SALE', 'SALE_CLOSED', 'EVENT_CANCELLED'];

// buySingly(p): one POST /tickets per seat (a purchase responder of round
// 1, which has no orders); some may succeed, some not.  Sent once each
// with a key of its own but not asked again: a responder of round 1 does
// not know keys, and would answer a retry SEAT_TAKEN for its own sale.
async function buySingly(p) {
  const out = result({});
  for (const [i, s] of p.seats.entries()) {
    const r = await api('POST', '/tickets', { venueId: p.ev.venueId, eventId: p.ev.eventId,
                                              zoneId: p.zone, row: s.row, column: s.column }, `${p.key}-t${i + 1}`);
    r.ids = { ticketId: r.body && r.body.ticketId, orderId: r.body && r.body.orderId };
    const rest = p.seats.slice(i);
    if (outcome(r) === 'done') {
      merge(out, bought(r, [s]));
    } else if (outcome(r) === 'unknown') {
      out.unknown.push({ seats: [s], text: unknownText(r, [s]) });
    } else if (SALE_ERRORS.includes(r.body && r.body.error)) {
      learn(r, p.ev, p.zone);   // the same for every seat left: one message for all of them
      out.failed.push({ seats: rest, text: explain(r, rest, p.zone) });
      break;
    } else {
      out.failed.push({ seats: [s], text: explain(r, [s], p.zone) });
    }
  }
  return out;
}

async function purchase(p) {
  const orders = await has('orders', '/orders');
  if (orders === null) return unasked(p);
  return orders ? buyOrder(p) : buySingly(p);
}

// buy: the chosen seats of the open zone.  The event, zone and seats are
// taken now: the person may pick another event or zone while it runs.
async function buy() {
  const seats = [...state.selected.values()];
  if (!seats.length || state.busy || !state.event || state.zone == null) return;
  const p = { ev: state.event, zone: state.zone, seats, key: newKey() };
  const gen = state.gen;
  let res;
  state.busy = true;
  try {
    showSelection();
    say('ok', `Buying ${seatList(seats)}…`);
    res = await purchase(p);
  } catch (e) {
    console.error(e);
    res = result({ unknown: [{ seats, text: `This page failed while buying ${seatList(seats)} (${e}). ` +
      'Do not buy again yet: look at the seat map and your tickets.' }] });
  } finally {
    state.busy = false;
    showSelection();
  }
  // seats the live map took away from the choice while the person chose
  if (state.lost.length) {
    res.failed.unshift({ seats: state.lost, text: `Someone else bought ${seatList(state.lost)} first, while you were choosing.` });
    state.lost = [];
  }
  if (gen !== state.gen) {
    report(res, `${p.ev.name || p.ev.eventId}, zone ${p.zone}:`);
    return;
  }
  state.selected.clear();
  report(res);
  showSale();
  await refreshMap(state.gen);
  showSale();
  state.lastStats = 0;
}

function ticketLine(t) {
  const look = el('button', { type: 'button', class: 'look' }, 'Look up');
  look.addEventListener('click', () => { $('ticket-id').value = t.ticketId; lookup(); });
  return el('li', {}, `${seatName(t)}, ${money(t.price)}: ticket `, el('span', { class: 'id' }, t.ticketId), ' ', look);
}

// report(res, where): a purchase's result in the answer box; where names
// the event and zone when the page shows another one by now.  An unknown
// outcome is never told as "not bought": it says so, and offers to ask
// again (the same requests, the same keys).
function report(res, where) {
  const parts = where ? [el('p', {}, where)] : [];
  if (res.bought.length) {
    parts.push(el('p', {}, el('strong', {}, `Bought ${res.bought.length} ${res.bought.length > 1 ? 'seats' : 'seat'}.`)));
    parts.push(el('ul', {}, ...res.bought.map(ticketLine)));
    for (const o of res.orders) {
      parts.push(el('p', {}, 'Order ', el('span', { class: 'order' }, o.orderId)));
      if (o.cancelToken) {
        parts.push(el('p', {}, 'Cancel token (shown once, kept only while this page is open): ',
          el('span', { class: 'token' }, o.cancelToken)));
      }
    }
  }
  if (res.unknown.length) {
    parts.push(el('p', {}, el('strong', {}, 'Outcome unknown.')));
    parts.push(list(res.unknown.map((u) => u.text)));
    const again = res.unknown.filter((u) => u.again);
    if (again.length) {
      const b = el('button', { type: 'button', class: 'again' }, 'Check again');
      b.addEventListener('click', () => checkAgain(again, where));
      parts.push(el('p', {}, b));
    }
  }
  if (res.failed.length) {
    parts.push(el('p', {}, el('strong', {}, res.bought.length || res.unknown.length ? 'Not bought:' : 'Nothing bought.')));
    parts.push(list(res.failed.map((f) => f.text)));
  }
  say(res.failed.length || res.unknown.length ? 'error' : 'ok', ...parts);
}

// checkAgain(unknown, where): the requests whose outcome was unknown, sent
// again with their keys (their first answer, or still unknown), then told
async function checkAgain(unknown, where) {
  if (state.busy) return;
  state.busy = true;
  const res = result({});
  try {
    showSelection();
    say('ok', 'Asking the box office again…');
    for (const u of unknown) merge(res, await u.again());
  } catch (e) {
    console.error(e);
    res.unknown.push(...unknown.map((u) => ({ ...u, text: `${u.text} (This page failed while asking again: ${e}.)` })));
  } finally {
    state.busy = false;
    showSelection();
  }
  report(res, where);
  if (res.bought.length) {
    state.lastStats = 0;
    await refreshMap(state.gen);
  }
}

// --------------------------------------------------------------- lookup

// lookup(ev, note): the ticket whose id is in the field, with note (a
// sentence about what was just done to it) under its details
async function lookup(ev, note) {
  if (ev) ev.preventDefault();
  const id = $('ticket-id').value.trim();
  const out = $('ticket');
  if (!id) return;
  const r = await api('GET', `/get/tickets/${seg(id)}`);
  if (r.status !== 200 || !r.body) {
    const why = r.status === 404 ? `There is no ticket ${id}.`
      : r.status === 400 ? 'A ticket id looks like 01a21fb3-4e2b-7384-8c0c-111fd9951518.'
      : `Could not look it up: ${(r.body && r.body.message) || 'status ' + r.status}.`;
    out.replaceChildren(el('div', {}, why, ...(note ? [el('p', {}, note)] : [])));
    return;
  }
  const t = r.body;
  const rows = [['Ticket', t.ticketId], ['Event', t.eventId], ['Venue', t.venueId], ['Zone', t.zoneId],
                ['Seat', seatName(t)], ['Price', money(t.price)], ['Status', t.status || 'CREATED'],
                ['Bought', when(t.createdOn)]];
  if (t.cancelledOn) rows.push(['Cancelled', when(t.cancelledOn)]);
  const dl = el('dl', {});
  for (const [k, v] of rows) dl.append(el('dt', {}, k), el('dd', {}, String(v)));
  const box = el('div', {}, dl);
  // cancellation, only with a token this page received
  const token = state.tokens.get(t.ticketId);
  if (token && t.status !== 'CANCELLED') {
    const b = el('button', { type: 'button' }, 'Cancel this ticket');
    b.addEventListener('click', async () => {
      const c = await api('POST', `/tickets/${seg(t.ticketId)}/cancel`, { cancelToken: token });
      // looked up again (the status it has now), the answer said under it
      await lookup(null, c.status === 200 ? 'Cancelled; the seat is on sale again.'
        : `Not cancelled: ${(c.body && c.body.message) || 'status ' + c.status}.`);
    });
    box.append(b);
  }
  if (note) box.append(el('p', {}, note));
  out.replaceChildren(box);
}

// ---------------------------------------------------------------- stats

async function refreshStats(gen) {
  if (!state.event) return;
  const r = await api('GET', `/get/events/${seg(state.event.eventId)}/stats`);
  if (gen !== state.gen || r.status !== 200 || !r.body) return;
  const s = r.body;
  updateZones(s);
  $('stats-total').textContent = `${s.sold} of ${s.capacity} seats sold, revenue ${money(s.revenue)} ` +
    '(tickets persisted so far; bars: share of each zone sold).';
  drawChart(s.zones || []);
}

// drawChart: one bar per zone, its height the share of the zone sold
function drawChart(zones) {
  const svg = $('chart');
  const gap = 3, h = 120, top = 6, bottom = 16;
  const w = Math.max(6, Math.min(40, Math.floor(640 / Math.max(zones.length, 1)) - gap));
  const width = Math.max(zones.length * (w + gap) + 30, 200);
  svg.setAttribute('viewBox', `0 0 ${width} ${h + top + bottom}`);
  svg.setAttribute('width', width);               // its natural size, shrunk by CSS to fit
  svg.setAttribute('height', h + top + bottom);
  const kids = [];
  for (const pct of [0, 50, 100]) {
    const t = document.createElementNS(SVG, 'text');
    t.setAttribute('x', 0); t.setAttribute('y', top + h - (pct / 100) * h + 3);
    t.textContent = `${pct}%`;
    kids.push(t);
  }
  const step = Math.ceil(zones.length / 20);
  zones.forEach((z, i) => {
    const x = 30 + i * (w + gap);
    const frac = z.capacity > 0 ? z.sold / z.capacity : 0;
    const g = document.createElementNS(SVG, 'g');
    const title = document.createElementNS(SVG, 'title');
    title.textContent = `Zone ${z.zoneId}: ${z.sold} of ${z.capacity} sold, revenue ${money(z.revenue)}`;
    const cap = document.createElementNS(SVG, 'rect');
    for (const [k, v] of [['x', x], ['y', top], ['width', w], ['height', h], ['class', 'cap']]) cap.setAttribute(k, v);
    const bar = document.createElementNS(SVG, 'rect');
    const bh = Math.round(frac * h * 10) / 10;
    for (const [k, v] of [['x', x], ['y', top + h - bh], ['width', w], ['height', bh], ['class', 'bar']]) bar.setAttribute(k, v);
    g.append(title, cap, bar);
    if (i % step === 0) {
      const t = document.createElementNS(SVG, 'text');
      t.setAttribute('x', x); t.setAttribute('y', top + h + 12);
      t.textContent = `${z.zoneId}`;
      g.append(t);
    }
    kids.push(g);
  });
  svg.replaceChildren(...kids);
}

// ------------------------------------------------------------ polling

function live(text) { $('live').textContent = text; }

function schedule() {
  clearTimeout(state.timer);
  if (!document.hidden && state.event) state.timer = setTimeout(tick, REFRESH_MS);
}

// tick: the seat map every REFRESH_MS, the zones and chart every STATS_MS,
// only while the page is visible; one round at a time
async function tick() {
  clearTimeout(state.timer);
  if (document.hidden || !state.event) return;
  const gen = state.gen;
  if (!state.busy) await refreshMap(gen);
  showSale();      // the countdowns, and a window that opened on this clock
  if (Date.now() - state.lastStats >= STATS_MS) {
    state.lastStats = Date.now();
    await refreshEvent(gen);
    await refreshStats(gen);
  }
  if (gen === state.gen) schedule();
}

// --------------------------------------------------------------- wiring

$('venue').addEventListener('change', pickVenue);
$('event').addEventListener('change', pickEvent);
$('seats').addEventListener('click', (ev) => {
  const b = ev.target.closest('.seat');
  if (b) { setCursor(b); toggleSeat(b); }
});
$('seats').addEventListener('keydown', onSeatKey);
$('buy').addEventListener('click', buy);
$('clear').addEventListener('click', () => {
  state.selected.clear();
  state.lost = [];
  if (state.map) applyMap(state.map);
  showSelection();
});
$('best').addEventListener('click', chooseBest);
$('lookup').addEventListener('submit', lookup);
document.addEventListener('visibilitychange', () => { if (!document.hidden) tick(); });
loadVenues();
