# SPDX-License-Identifier: ISC
"""The box-office page (web/) in a real browser: Debian's chromium, headless,
driven by chromedriver through python3-selenium, against nginx and lighttpd
(and Apache where the stack runs it).

Covers the venue -> event -> zone flow, a purchase by clicking two seats
(the map then shows them taken, Redis and MySQL hold the tickets), a
purchase that loses a race against the API, a 503 (broker stopped) shown
in words, a purchase made with the keyboard only, an event whose name is
HTML (nothing of it runs), the page at phone width, and no console errors.
The sale windows and cancellation (docs/api.md, set through the catalog):
a zone whose opensAt is ahead shows when it opens and cannot be bought, a
purchase answered 403 NOT_ON_SALE is told in words, a cancelled event says
so and sells nothing; the seed catalog is put back afterwards. Orders:
two seats chosen are one order (held, then confirmed), and a ticket is
cancelled from the page with the order's token.
Unknown outcomes (docs/api.md, "Outcome unknown", "Idempotency-Key"):
every purchase attempt sends its own Idempotency-Keys (one for the hold,
one for its confirm); a confirm whose responder is killed (nginx's and
lighttpd's own 503) is never told "not bought": the page asks again with
the same key and shows the order the sweeper completed, sold once; while
the outcome stays unknown (no sweeper) it says so, keeps the hold and asks
again when told.  A failed feature probe buys nothing seat by seat, and
switching event while a purchase is in flight neither breaks the page nor
leaves Buy disabled.
Screenshots go to $BOX_VAR/screenshots/ for a person to look at.
"""

import os
import re
import signal
from datetime import timedelta

import box
import catalog
from box import APACHE, LIGHTTPD, NGINX, check, eq

webdriver, By, Keys, Select, Service, ActionChains, sel_exc = box.debian_modules(
    "selenium.webdriver", "selenium.webdriver.common.by", "selenium.webdriver.common.keys",
    "selenium.webdriver.support.select", "selenium.webdriver.chrome.service",
    "selenium.webdriver.common.action_chains", "selenium.common.exceptions")
By, Keys, Select = By.By, Keys.Keys, Select.Select
Service, ActionChains = Service.Service, ActionChains.ActionChains

SHOTS = os.path.join(box.ENV.get("BOX_VAR", os.path.join(box.ROOT, "var")), "screenshots")
NAMES = {NGINX: "nginx", LIGHTTPD: "lighttpd", APACHE: "apache"}
XSS_EVENT = "EventXss"
XSS_NAME = "<img src=x onerror=alert(1)> Night"
WAIT = 60          # seconds for anything the page shows (slow, shared machine)

drv = None


# ------------------------------------------------------------------ catalog

def with_xss_event(doc):
    """doc with the event whose name is HTML (at Venue2)."""
    doc["events"] = [e for e in doc["events"] if e["eventId"] != XSS_EVENT]
    doc["events"].append({"eventId": XSS_EVENT, "venueId": "Venue2", "name": XSS_NAME,
                          "type": "CONCERT", "date": "2027-06-01T20:00:00Z"})
    return doc


def create_event():
    """Adds that event to the catalog (`catalog show`, the event appended,
    `catalog apply`: MySQL and Redis)."""
    catalog.apply_ok(with_xss_event(catalog.show()), "adding " + XSS_EVENT)


def base(**event3):
    """The catalog of these tests: the seed, the XSS event, and Event3's
    fields changed as given."""
    return with_xss_event(catalog.with_event("Event3", **event3))


def drop_event(event_id):
    """Removes what create_event added: `make reset` forgets the sales,
    then the catalog is applied without the event."""
    box.stack("reset")
    doc = catalog.show()
    doc["events"] = [e for e in doc["events"] if e["eventId"] != event_id]
    catalog.apply_ok(doc, "dropping " + event_id)


# ------------------------------------------------------------------ browser

def setup_module():
    global drv
    catalog.restore()
    os.makedirs(SHOTS, exist_ok=True)
    o = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1100,1400", "--disable-extensions", "--no-first-run"):
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
    drv.set_page_load_timeout(60)
    create_event()


def teardown_module():
    if drv:
        drv.quit()
    drop_event(XSS_EVENT)
    catalog.restore()


def ports():
    return [p for p in (NGINX, LIGHTTPD, APACHE) if p]


def wait(fn, what, timeout=WAIT, show=None):
    """Polls fn (ignoring stale elements while the page redraws); on a
    time-out the failure quotes show() (what the page says instead)."""
    def safe():
        try:
            return fn()
        except (sel_exc.StaleElementReferenceException, sel_exc.NoSuchElementException):
            return None
    try:
        return box.wait_until(safe, timeout=timeout, interval=0.2, what=what)
    except box.Fail as e:
        if show is None:
            raise
        raise box.Fail("%s; the page says %r" % (e, show())) from None


def shot(name):
    drv.save_screenshot(os.path.join(SHOTS, name + ".png"))


def console_errors():
    """Browser log entries that are errors of the page: everything at
    SEVERE or WARNING except the network lines of HTTP answers the page
    handles itself (404 of a feature probe, 409, 503)."""
    bad = []
    for e in drv.get_log("browser"):
        if e["level"] not in ("SEVERE", "WARNING"):
            continue
        if e.get("source") == "network" and "the server responded with a status of" in e["message"]:
            continue
        if "net::ERR_BLOCKED_BY_CLIENT" in e["message"]:
            continue        # the requests block_queries() held back
        bad.append(e["message"])
    return bad


def no_console_errors(what):
    bad = console_errors()
    check(not bad, "%s: console errors: %s" % (what, bad))


def open_page(port):
    drv.get("http://127.0.0.1:%d/" % port)
    wait(lambda: len(drv.find_elements(By.CSS_SELECTOR, "#venue option")) > 1, "venues on :%d" % port)


def choose(port, venue, event, zone):
    """The venue -> event -> zone flow with the mouse; returns when the seat
    map is drawn."""
    open_page(port)
    Select(drv.find_element(By.ID, "venue")).select_by_value(venue)
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#event option[value='%s']" % event), "event option")
    Select(drv.find_element(By.ID, "event")).select_by_value(event)
    btn = wait(lambda: drv.find_element(By.CSS_SELECTOR, "button[data-zone='%d']" % zone), "zone button")
    btn.click()
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#seats .seat"), "seat map")


def seat(row, col):
    return drv.find_element(By.CSS_SELECTOR, ".seat[data-row='%d'][data-col='%d']" % (row, col))


def seat_class(row, col):
    return seat(row, col).get_attribute("class")


def answer():
    return drv.find_element(By.ID, "answer").text


def bought_ids():
    return [e.text for e in drv.find_elements(By.CSS_SELECTOR, "#answer .id")]


def active():
    return drv.switch_to.active_element


def press(*keys):
    ActionChains(drv).send_keys(*keys).perform()


def tab_to(pred, what, limit=80):
    """Presses Tab until pred(active element) holds (the keyboard's way)."""
    for _ in range(limit):
        press(Keys.TAB)
        if pred(active()):
            return active()
    raise box.Fail("Tab never reached %s" % what)


def persisted(event, seats):
    rows = box.sql("SELECT row_no, col_no FROM ticket WHERE event_id = '%s'" % event)
    return {(int(r), int(c)) for r, c in rows} >= set(seats)


def block_queries(on):
    """Holds back the page's /get/ requests (Chrome's own request blocking,
    through the DevTools protocol), so that the page keeps what it last
    saw: a person who clicks Buy before the next poll."""
    drv.execute_cdp_cmd("Network.enable", {})
    drv.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/get/*"] if on else []})


# The page's requests as it sends them (window.fetch wrapped after the page
# loaded; app.js calls the global fetch each time): method, path, the
# Idempotency-Key header and the body sent, and the status answered (None
# while in flight, 0 when none came).  With window.__park set, a POST waits
# before it is sent until window.__release() is called.
RECORDER = """
if (!window.__reqs) {
  window.__reqs = [];
  const real = window.fetch.bind(window);
  window.fetch = async (url, init) => {
    init = init || {};
    const h = init.headers || {};
    const key = h instanceof Headers ? h.get('Idempotency-Key') : (h['Idempotency-Key'] || null);
    const e = {method: init.method || 'GET', path: new URL(String(url), location.href).pathname,
               key: key, body: init.body === undefined ? null : String(init.body), status: null};
    window.__reqs.push(e);
    if (window.__park && e.method === 'POST') {
      e.parked = true;
      await new Promise((go) => { window.__release = go; });
    }
    try {
      const r = await real(url, init);
      e.status = r.status;
      return r;
    } catch (err) {
      e.status = 0;
      throw err;
    }
  };
}
"""


def record_requests():
    drv.execute_script(RECORDER)


def requests(method=None, path=None):
    """The recorded requests, those of method and whose path matches the
    regular expression path when given."""
    return [r for r in drv.execute_script("return window.__reqs || []")
            if (method is None or r["method"] == method) and (path is None or re.fullmatch(path, r["path"]))]


KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
CONFIRM = r"/holds/[A-Za-z0-9_-]+/confirm"


def hold_id(confirm_path):
    return confirm_path.split("/")[2]


def sale_cell(zone):
    return drv.find_element(By.CSS_SELECTOR, "#zone-%d td.sale" % zone).text


# -------------------------------------------------------------------- tests

def test_page_is_static_with_a_strict_policy():
    for port in ports():
        r = box.http("GET", "/", port=port)
        eq(r.status, 200, "/ via %d" % port)
        csp = r.header("Content-Security-Policy") or ""
        check("script-src 'self'" in csp and "unsafe-inline" not in csp, "CSP via %d: %r" % (port, csp))
        check("<script type=\"module\" src=\"/ui/app.js\">" in r.body, "module script")
        check("style=" not in r.body and "onclick" not in r.body.lower(), "inline style or handler")
        for path, ctype in (("/ui/app.js", "text/javascript"), ("/ui/app.css", "text/css")):
            a = box.http("GET", path, port=port)
            eq((a.status, (a.header("Content-Type") or "").split(";")[0]), (200, ctype), path)
            check(a.header("X-Content-Type-Options") == "nosniff", "nosniff on " + path)
        check("http://" not in box.http("GET", "/ui/app.js", port=port).body.replace(
            "http://www.w3.org/2000/svg", ""), "app.js refers to another origin")


def test_venue_event_zone_flow():
    for port in ports():
        choose(port, "Venue2", "Event2", 4)
        check("Chamber Evening" in drv.find_element(By.ID, "event-info").text, "event info")
        rows = drv.find_elements(By.CSS_SELECTOR, "#zones tbody tr")
        eq(len(rows), 4, "zones of Venue2")
        check("150.00" in rows[0].text and "95.50" in rows[1].text, "prices: %s" % rows[0].text)
        eq(len(drv.find_elements(By.CSS_SELECTOR, "#seats .seat")), 12, "zone 4: 3 rows x 4 seats")
        wait(lambda: "of 12 seats left" in drv.find_element(By.ID, "map-info").text, "seats left")
        wait(lambda: len(drv.find_elements(By.CSS_SELECTOR, "#chart rect.bar")) == 4, "chart bars")
        # another event of the venue shows its own name and zones
        Select(drv.find_element(By.ID, "event")).select_by_value("Event3")
        wait(lambda: "Stand-up Matinee" in drv.find_element(By.ID, "event-info").text, "Event3 info")
        check(drv.find_element(By.ID, "map-section").get_attribute("hidden") is not None,
              "seat map of the other event closed")
        shot("flow-" + NAMES[port])
        no_console_errors("flow via %d" % port)


def test_buy_two_seats_by_clicking():
    for i, port in enumerate((NGINX, LIGHTTPD)):
        mine = [(1, 1 + 2 * i), (1, 2 + 2 * i)]
        choose(port, "Venue2", "Event2", 1)
        for r, c in mine:
            seat(r, c).click()
            eq(seat(r, c).get_attribute("aria-pressed"), "true", "seat %s chosen" % ((r, c),))
        check("row 1 seat %d" % mine[1][1] in drv.find_element(By.ID, "selection").text, "selection text")
        drv.find_element(By.ID, "buy").click()
        wait(lambda: "Bought 2 seats" in answer(), "purchase answer (%s)" % answer)
        ids = bought_ids()
        eq(len(ids), 2, "two ticket ids shown")
        for r, c in mine:
            wait(lambda: "taken" in seat_class(r, c), "seat %s drawn taken" % ((r, c),))
            eq(seat(r, c).get_attribute("aria-label"), "Row %d, seat %d: sold" % (r, c), "label")
        taken = box.zone_state("Event2", 1)["taken"]
        check(set(mine) <= taken, "Redis holds the seats")
        box.wait_until(lambda: persisted("Event2", mine), what="MySQL holds the tickets")
        got = {t[0] for t in box.sql("SELECT ticket_id FROM ticket WHERE event_id = 'Event2'")}
        check(set(ids) <= got, "the ids shown are the ids in MySQL")
        # the stats poll redraws the chart with them
        wait(lambda: "seats sold" in drv.find_element(By.ID, "stats-total").text and
             int(drv.find_element(By.ID, "stats-total").text.split()[0]) >= 2 * (i + 1), "stats")
        shot("bought-" + NAMES[port])
        no_console_errors("purchase via %d" % port)
    # the screenshot of the README (docs/screenshot.png is a copy of it):
    # the whole page, with some more sales in the chart
    more = [(3, 1, c) for c in range(1, 7)] + [(4, r, c) for r in (1, 2) for c in range(1, 5)]
    for r in box.parallel(lambda z, r, c: box.buy("Venue2", "Event2", z, r, c), more, workers=8):
        eq(r.status, 201, "API purchase for the chart")
    wait(lambda: drv.find_element(By.ID, "stats-total").text.startswith("18 of 280"), "chart with 18 sold",
         timeout=60)
    height = drv.execute_script("return document.documentElement.scrollHeight")
    drv.set_window_size(1100, min(height + 140, 4000))
    shot("page")
    drv.set_window_size(1100, 1400)


def test_lost_race_is_told_and_redrawn():
    for i, port in enumerate((NGINX, LIGHTTPD)):
        ours, theirs = (2, 1 + 2 * i), (2, 2 + 2 * i)
        choose(port, "Venue2", "Event2", 1)
        seat(*ours).click()
        seat(*theirs).click()
        r = box.buy("Venue2", "Event2", 1, theirs[0], theirs[1])
        eq(r.status, 201, "the API bought the seat first")
        drv.find_element(By.ID, "buy").click()
        # the page buys the two seats as one order, all or nothing
        # (CONTRACT section 7): nothing is bought, the lost seat is named
        wait(lambda: "Nothing bought" in answer(), "purchase answer", show=answer)
        text = answer()
        check("Someone else bought row %d seat %d first" % theirs in text, "race told in words: %r" % text)
        wait(lambda: "taken" in seat_class(*theirs), "their seat drawn taken")
        check("taken" not in seat_class(*ours), "our seat still free: %s" % seat_class(*ours))
        state = box.zone_state("Event2", 1)
        owner = state["owners"].get((theirs[0] - 1) * 20 + theirs[1] - 1)
        eq(owner, r.json()["ticketId"], "the API's ticket kept the seat")
        check(ours not in state["taken"], "our seat not sold in Redis")
        shot("race-" + NAMES[port])
        no_console_errors("race via %d" % port)


def test_unavailable_is_shown_as_a_message():
    box.stack("stop", "rabbitmq")
    try:
        for i, port in enumerate((NGINX, LIGHTTPD)):
            s = (3, 1 + i)
            choose(port, "Venue2", "Event2", 1)
            seat(*s).click()
            drv.find_element(By.ID, "buy").click()
            wait(lambda: "Nothing bought" in answer(), "503 answer")
            text = answer()
            check("unavailable right now" in text and "nothing was sold" in text, "503 in words: %r" % text)
            wait(lambda: "free" in seat_class(*s), "seat still free")
            shot("unavailable-" + NAMES[port])
            no_console_errors("503 via %d" % port)
    finally:
        box.stack("start", "rabbitmq")
    for port in (NGINX, LIGHTTPD):
        box.wait_until(lambda: box.http("GET", "/tickets/health", port=port).status == 200,
                       timeout=90, what="purchase responder back after the broker")


def test_keyboard_only_purchase():
    port = LIGHTTPD
    open_page(port)
    drv.find_element(By.TAG_NAME, "body").click()
    venue = tab_to(lambda e: e.get_attribute("id") == "venue", "the venue list")
    venue.send_keys("Riverside")          # typing picks the option, as a person would
    wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#event option[value='Event3']"), "events")
    ev = tab_to(lambda e: e.get_attribute("id") == "event", "the event list")
    ev.send_keys("Stand")
    tab_to(lambda e: e.get_attribute("data-zone") == "2", "the zone 2 button")
    press(Keys.ENTER)
    first = wait(lambda: active() if "seat" in (active().get_attribute("class") or "") else None,
                 "focus on the seat map")
    eq((first.get_attribute("data-row"), first.get_attribute("data-col")), ("1", "1"), "first seat focused")
    press(Keys.ARROW_DOWN, Keys.ARROW_RIGHT, Keys.SPACE, Keys.ARROW_RIGHT, Keys.SPACE)
    eq([seat(2, c).get_attribute("aria-pressed") for c in (2, 3)], ["true", "true"], "chosen by keyboard")
    tab_to(lambda e: e.get_attribute("id") == "buy", "the Buy button")
    press(Keys.ENTER)
    wait(lambda: "Bought 2 seats" in answer(), "keyboard purchase answer")
    taken = box.zone_state("Event3", 2)["taken"]
    check({(2, 2), (2, 3)} <= taken, "Redis holds the keyboard's seats")
    shot("keyboard")
    no_console_errors("keyboard purchase")


def test_event_name_is_text_not_html():
    port = NGINX
    choose(port, "Venue2", XSS_EVENT, 3)
    opt = drv.find_element(By.CSS_SELECTOR, "#event option[value='%s']" % XSS_EVENT)
    check(XSS_NAME in opt.text, "the name shown as text: %r" % opt.text)
    check(XSS_NAME in drv.find_element(By.ID, "event-info").text, "event info as text")
    seat(1, 1).click()
    drv.find_element(By.ID, "buy").click()
    wait(lambda: "Bought 1 seat" in answer(), "purchase of the event")
    try:
        alert = drv.switch_to.alert
        text = alert.text
        alert.dismiss()
        raise box.Fail("an alert ran: %r" % text)
    except sel_exc.NoAlertPresentException:
        pass
    eq(drv.execute_script("return document.images.length"), 0, "no <img> element made from the name")
    eq(box.zone_state(XSS_EVENT, 3)["taken"], {(1, 1)}, "the seat sold")
    shot("xss")
    no_console_errors("event with an HTML name")


def test_readable_on_a_phone():
    drv.set_window_size(390, 844)
    try:
        choose(NGINX, "Venue1", "Event1", 1)
        width = drv.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        check(width <= 1, "the page is %d px wider than a phone" % width)
        check(seat(1, 1).size["width"] >= 20, "seats big enough to touch")
        shot("phone")
        no_console_errors("phone")
    finally:
        drv.set_window_size(1100, 1400)


# A moment as the page writes it (web/app.js clock()): "10:00 AM", or with
# its day, "Dec 6, 12:00 AM", when it falls on another day than today's --
# a window two minutes ahead does near midnight.
AT = r"(?:[A-Z][a-z]{2} \d{1,2}, )?\d{1,2}:\d{2}"


def test_zone_not_yet_on_sale():
    """Zone 4 of Event3 opens a minute ahead (catalog apply).  A page that
    still shows it on sale buys -> 403 NOT_ON_SALE, told in words, the zone
    then shown closed and Buy disabled; a fresh page shows when it opens,
    with Buy disabled; the other zones stay on sale."""
    zone = 4
    try:
        for i, port in enumerate((NGINX, LIGHTTPD)):
            catalog.apply_ok(base(), "the catalog")
            s = (3, 1 + i)
            choose(port, "Venue2", "Event3", zone)
            wait(lambda: sale_cell(zone) == "on sale", "zone on sale before the window")
            seat(*s).click()
            block_queries(True)
            try:
                at = catalog.redis_now().replace(microsecond=0) + timedelta(seconds=120)
                catalog.apply_ok(base(onSale=[
                    {"fromZone": zone, "toZone": zone, "opensAt": catalog.stamp(at)}]), "window ahead")
                check(not drv.find_element(By.ID, "buy").get_attribute("disabled"), "Buy still enabled")
                drv.find_element(By.ID, "buy").click()
                wait(lambda: "Nothing bought" in answer(), "403 answer")
                text = answer()
                check(re.search(r"not on sale yet: opens at " + AT + r".* \(in \d+ (s|min)\)", text),
                      "403 in words: %r" % text)
                check(re.search(r"^on sale at " + AT + r".* \(in \d+ (s|min)\)$", sale_cell(zone)),
                      "zone row after the 403: %r" % sale_cell(zone))
                seat(*s).click()
                check(drv.find_element(By.ID, "buy").get_attribute("disabled"), "Buy disabled after the 403")
            finally:
                block_queries(False)
            check(s not in box.zone_state("Event3", zone)["taken"], "nothing sold")
            # a fresh page shows the window and offers no purchase
            choose(port, "Venue2", "Event3", zone)
            cell = sale_cell(zone)
            check(re.search(r"^on sale at " + AT + r".* \(in \d+ (s|min)\)$", cell), "zone row: %r" % cell)
            check("closed" in drv.find_element(By.ID, "zone-%d" % zone).get_attribute("class"), "row marked")
            eq(sale_cell(3), "on sale", "zone 3 has no window")
            note = drv.find_element(By.ID, "sale-note").text
            check(note.startswith("Not on sale yet: on sale at"), "note by the seat map: %r" % note)
            seat(*s).click()
            eq(seat(*s).get_attribute("aria-pressed"), "true", "a seat may be chosen")
            check(drv.find_element(By.ID, "buy").get_attribute("disabled"), "Buy disabled before opensAt")
            check(drv.find_element(By.ID, "best").get_attribute("disabled"), "best seats disabled")
            shot("not-on-sale-" + NAMES[port])
            no_console_errors("zone not on sale via %d" % port)
        # a window on another day is told with its day
        at = catalog.redis_now().replace(microsecond=0) + timedelta(days=3)
        catalog.apply_ok(base(onSale=[
            {"fromZone": zone, "toZone": zone, "opensAt": catalog.stamp(at)}]), "window in 3 days")
        choose(NGINX, "Venue2", "Event3", zone)
        cell = sale_cell(zone)
        check(re.search(r"^on sale at [A-Z][a-z]{2} %d, \d{1,2}:\d{2}.* \(in 3 days\)$" % at.astimezone().day, cell),
              "zone row of a window in 3 days: %r" % cell)
    finally:
        catalog.apply_ok(base(), "the catalog again")


def test_cancelled_event_says_so_and_sells_nothing():
    r = catalog.ctl("event", "cancel", "Event3")
    eq(r.returncode, 0, "event cancel: " + r.stderr)
    try:
        for port in (NGINX, LIGHTTPD):
            choose(port, "Venue2", "Event3", 1)
            opt = drv.find_element(By.CSS_SELECTOR, "#event option[value='Event3']").text
            check(opt.endswith("(cancelled)"), "event list: %r" % opt)
            status = drv.find_element(By.ID, "event-status")
            check(status.is_displayed() and "This event was cancelled" in status.text,
                  "event status: %r" % status.text)
            eq({sale_cell(z) for z in (1, 2, 3, 4)}, {"cancelled"}, "zones")
            seat(1, 5).click()
            check(drv.find_element(By.ID, "buy").get_attribute("disabled"), "Buy disabled")
            check("cancelled" in drv.find_element(By.ID, "sale-note").text, "note by the seat map")
            shot("cancelled-" + NAMES[port])
            no_console_errors("cancelled event via %d" % port)
        # a page opened before the cancellation is told when it buys
        catalog.apply_ok(base(), "the catalog")
        choose(NGINX, "Venue2", "Event3", 1)
        seat(1, 6).click()
        block_queries(True)
        try:
            eq(catalog.ctl("event", "cancel", "Event3").returncode, 0, "cancel again")
            drv.find_element(By.ID, "buy").click()
            wait(lambda: "Nothing bought" in answer(), "410 answer")
            check("This event was cancelled: nothing can be bought." in answer(), "410 in words: %r" % answer())
            check("This event was cancelled" in drv.find_element(By.ID, "event-status").text, "status after 410")
            seat(1, 7).click()
            check(drv.find_element(By.ID, "buy").get_attribute("disabled"), "Buy disabled after 410")
        finally:
            block_queries(False)
        no_console_errors("410 via nginx")
    finally:
        catalog.apply_ok(base(), "the catalog again")


def test_seats_bought_as_one_order_and_one_cancelled():
    """Two seats chosen on the map are one order (held, then confirmed:
    CONTRACT section 7); the page keeps the order's cancel token, and
    "Cancel this ticket" under the lookup puts that seat back on sale."""
    mine = [(5, 10), (5, 11)]
    choose(NGINX, "Venue2", "Event2", 1)
    for r, c in mine:
        seat(r, c).click()
    drv.find_element(By.ID, "buy").click()
    wait(lambda: "Bought 2 seats" in answer(), "purchase answer")
    ids = bought_ids()
    eq(len(ids), 2, "two ticket ids shown")
    check(drv.find_elements(By.CSS_SELECTOR, "#answer .token"), "the cancel token is shown")
    box.wait_until(lambda: box.sql_count("SELECT COUNT(*) FROM ticket WHERE ticket_id IN "
                                         "('%s', '%s')" % tuple(ids)) == 2,
                   what="MySQL holds both tickets")
    orders = box.sql("SELECT DISTINCT IFNULL(order_id, 'NULL') FROM ticket WHERE ticket_id IN "
                     "('%s', '%s')" % tuple(ids))
    eq(len(orders), 1, "both tickets in one order: %r" % orders)
    eq(box.sql("SELECT status, total FROM orders WHERE order_id = '%s'" % orders[0][0]),
       [["CONFIRMED", "300.00"]], "the order in MySQL")
    # the first ticket's line: Look up, then cancel it with the kept token
    drv.find_element(By.CSS_SELECTOR, "#answer button.look").click()
    btn = wait(lambda: [b for b in drv.find_elements(By.CSS_SELECTOR, "#ticket button")
                        if b.text == "Cancel this ticket"], "the cancel button")[0]
    btn.click()
    wait(lambda: "Cancelled; the seat is on sale again." in drv.find_element(By.ID, "ticket").text,
         "the cancellation told")
    wait(lambda: "CANCELLED" in drv.find_element(By.ID, "ticket").text, "the lookup shows CANCELLED")
    row, col = box.sql("SELECT row_no, col_no FROM ticket WHERE ticket_id = '%s'" % ids[0])[0]
    freed = (int(row), int(col))
    kept = [s for s in mine if s != freed][0]
    taken = box.zone_state("Event2", 1)["taken"]
    check(freed not in taken and kept in taken, "Redis: %s free again, %s sold" % (freed, kept))
    wait(lambda: "taken" not in seat_class(*freed), "the cancelled seat drawn free")
    check("taken" in seat_class(*kept), "the other seat still drawn taken")
    box.wait_until(lambda: box.sql("SELECT status FROM ticket WHERE ticket_id = '%s'" % ids[0])
                   == [["CANCELLED"]], what="MySQL marks the ticket CANCELLED")
    eq(box.sql("SELECT status FROM ticket WHERE ticket_id = '%s'" % ids[1]), [["CREATED"]],
       "the other ticket stays sold")
    shot("cancelled-ticket-nginx")
    no_console_errors("order and cancellation")


def test_each_purchase_sends_its_own_idempotency_keys():
    """A purchase's hold and its confirm each carry an Idempotency-Key
    (two keys: a key is bound to one request), and the server kept them:
    the same hold again with its key and body answers the first hold, the
    confirm again answers the same order, both as replays.  The next
    purchase uses new keys."""
    choose(LIGHTTPD, "Venue2", "Event2", 1)
    record_requests()
    keys = []
    for cols in ((12, 13), (15,)):
        for c in cols:
            seat(8, c).click()
        drv.find_element(By.ID, "buy").click()
        n = len(cols)
        wait(lambda: ("Bought %d seat" % n) in answer(), "purchase answer", show=answer)
        done = len(keys) // 2
        holds, confirms = requests("POST", "/holds")[done:], requests("POST", CONFIRM)[done:]
        eq((len(holds), len(confirms)), (1, 1), "one hold and one confirm: %r" % requests("POST"))
        h, c = holds[0], confirms[0]
        check(h["key"] and KEY.fullmatch(h["key"]), "the hold's Idempotency-Key: %r" % h["key"])
        check(c["key"] and KEY.fullmatch(c["key"]), "the confirm's Idempotency-Key: %r" % c["key"])
        check(h["key"] != c["key"], "one key for the hold, another for its confirm")
        keys += [h["key"], c["key"]]
        # the server's records of those keys: replays of the page's requests
        rh = box.http("POST", "/holds", h["body"], {"Content-Type": "application/json",
                                                    "Idempotency-Key": h["key"]}, port=LIGHTTPD)
        eq((rh.status, rh.header("Idempotent-Replayed"), rh.json().get("holdId")),
           (201, "true", hold_id(c["path"])), "the hold again with its key (%s)" % rh.body)
        rc = box.http("POST", c["path"], None, {"Idempotency-Key": c["key"]}, port=NGINX)
        eq((rc.status, rc.header("Idempotent-Replayed")), (201, "true"),
           "the confirm again with its key (%s)" % rc.body)
        oid = rc.json()["orderId"]
        check(oid in answer(), "the page shows the order %s: %r" % (oid, answer()))
        eq(sorted((t["row"], t["column"]) for t in rc.json()["tickets"]), [(8, x) for x in cols],
           "the order's seats")
    eq(len(set(keys)), 4, "new keys for the second purchase: %r" % keys)
    no_console_errors("keyed purchases")


def kill_held_confirm():
    """Once a responder holds the page's confirm at the armed "reserved"
    hook (its seats reserved, nothing published), kills it with SIGKILL:
    the web server answers its own 503.  Returns the order id the
    responder was selling."""
    pid, order_id = box.hook_wait("reserved", timeout=60)
    os.kill(pid, signal.SIGKILL)
    return order_id


def settle(until, what, timeout):
    """Waits until until(the answer) holds; fails at once when the page
    says, meanwhile, that the seats were not bought."""
    said = []

    def fn():
        text = answer()
        if "not bought" in text.lower() or "Nothing bought" in text:
            said.append(text)
            return True
        return until(text)
    wait(fn, what, timeout=timeout, show=answer)
    check(not said, "an unknown outcome told as not bought: %r" % said[:1])


def bought_or_check_again(text):
    """For settle(): the page shows the order; on a slow machine it may
    have stopped asking by itself first: then "Check again" is pressed."""
    if "Bought 2 seats" in text:
        return True
    if "Outcome unknown" in text:
        drv.find_element(By.CSS_SELECTOR, "#answer button.again").click()
    return False


def sold_once(event, zone, seats, order_id):
    """Redis: the seats belong to the order's tickets; MySQL: they were
    sold once, in that order."""
    o = box.http("GET", "/get/orders/%s" % order_id)
    eq(o.status, 200, "the order exists (%s)" % o.body)
    tickets = {(t["row"], t["column"]): t["ticketId"] for t in o.json()["tickets"]}
    eq(sorted(tickets), sorted(seats), "the order's seats")
    st = box.zone_state(event, zone)
    eq({s: st["owners"].get((s[0] - 1) * st["cols"] + s[1] - 1) for s in seats}, tickets,
       "Redis: the seats are the order's")
    where = "event_id = '%s' AND zone_id = %d AND (%s)" % (
        event, zone, " OR ".join("(row_no = %d AND col_no = %d)" % s for s in seats))
    box.wait_until(lambda: box.sql_count("SELECT COUNT(*) FROM ticket WHERE " + where) == len(seats),
                   timeout=60, what="MySQL holds the order's tickets")
    eq(box.sql("SELECT DISTINCT order_id FROM ticket WHERE " + where), [[order_id]],
       "MySQL: one order for the seats")
    return o.json()


def test_unknown_confirm_is_asked_again_with_its_key():
    """The responder of the page's confirm is killed after reserving the
    seats, before publishing: nginx and lighttpd answer their own 503 or
    500 ("the outcome of a purchase in progress is unknown").  The page does
    not say "not bought" nor give the hold back: it asks again with the
    same Idempotency-Key (409 REQUEST_IN_PROGRESS until the sweeper has
    published the order, then the first 201 again) and shows the order,
    sold once."""
    for i, port in enumerate((NGINX, LIGHTTPD)):
        mine = [(7, 1 + 3 * i), (7, 2 + 3 * i)]
        choose(port, "Venue2", "Event2", 1)
        record_requests()
        for s in mine:
            seat(*s).click()
        box.hook_arm("reserved", 60000, '"zoneId":1,"row":7,"column":%d,' % mine[0][1])
        try:
            drv.find_element(By.ID, "buy").click()
            oid = kill_held_confirm()
        finally:
            box.hook_clear("reserved")
        settle(bought_or_check_again, "the order, asked again", 90)
        check(oid in answer(), "the page shows the order %s: %r" % (oid, answer()))
        confirms = requests("POST", CONFIRM)
        check(len(confirms) >= 2, "the confirm asked again: %r" % confirms)
        # nginx's 503, lighttpd's 500 (conf/lighttpd-errors/status-500.html)
        check(confirms[0]["status"] in (500, 502, 503, 504), "the first confirm: the web server's 5xx: %r"
              % confirms[0])
        eq(len({c["key"] for c in confirms}), 1, "every confirm with the same key: %r" % confirms)
        check(confirms[0]["key"] and KEY.fullmatch(confirms[0]["key"]), "a key: %r" % confirms[0]["key"])
        eq(len(requests("POST", "/holds")), 1, "one hold, not bought again")
        eq(requests("DELETE"), [], "the hold of a confirm in doubt is not deleted")
        o = sold_once("Event2", 1, mine, oid)
        check(o["tickets"][0]["ticketId"] in bought_ids(), "the order's tickets shown")
        shot("unknown-asked-again-" + NAMES[port])
        no_console_errors("unknown outcome via %d" % port)


def test_outcome_still_unknown_is_said_plainly():
    """As above, with the consumer (and its sweeper) stopped: the key
    answers 409 REQUEST_IN_PROGRESS as long as the order is unpublished.
    The page gives up asking on its own and says the outcome is unknown
    (do not buy again) with the order the 409s name, keeping the hold;
    "Check again" once the sweeper runs shows the order, sold once."""
    port, mine = NGINX, [(9, 4), (9, 5)]
    choose(port, "Venue2", "Event2", 1)
    record_requests()
    for s in mine:
        seat(*s).click()
    box.stack("stop", "consumer")
    try:
        box.hook_arm("reserved", 60000, '"zoneId":1,"row":9,"column":4,')
        try:
            drv.find_element(By.ID, "buy").click()
            oid = kill_held_confirm()
        finally:
            box.hook_clear("reserved")
        settle(lambda t: "Outcome unknown" in t, "outcome unknown", 120)
        text = answer()
        check("do not buy" in text.lower(), "told not to buy again yet: %r" % text)
        check("Bought" not in text, "nothing said bought: %r" % text)
        check("order %s" % oid in text, "the order the 409s named, shown: %r" % text)
        eq(requests("DELETE"), [], "the hold is kept")
        confirms = requests("POST", CONFIRM)
        check(len(confirms) >= 3 and len({c["key"] for c in confirms}) == 1,
              "asked again with the same key: %r" % confirms)
        check({c["status"] for c in confirms[1:]} == {409}, "REQUEST_IN_PROGRESS: %r" % confirms)
        check(set(mine) <= box.zone_state("Event2", 1)["taken"], "the seats stay reserved")
        shot("unknown-" + NAMES[port])
    finally:
        box.stack("start", "consumer")
    drv.find_element(By.CSS_SELECTOR, "#answer button.again").click()
    settle(lambda t: "Bought 2 seats" in t, "the order after Check again", 90)
    check(oid in answer(), "the order shown: %r" % answer())
    eq(len({c["key"] for c in requests("POST", CONFIRM)}), 1, "Check again: the same key")
    sold_once("Event2", 1, mine, oid)
    no_console_errors("outcome unknown")


def test_failed_probe_buys_nothing_seat_by_seat():
    """The page asks once whether POST /orders and /holds exist (405 yes,
    404 no).  With the purchase responder down the probe gets the web
    server's 503, which says nothing about that: the page must not fall
    back to one POST /tickets per seat (not all or nothing), it buys
    nothing and says so; with the responder back, the same page buys the
    seats as one order."""
    mine = [(10, 1), (10, 2)]
    choose(NGINX, "Venue2", "Event2", 1)
    record_requests()
    for s in mine:
        seat(*s).click()
    box.stack("stop", "ticket")
    try:
        drv.find_element(By.ID, "buy").click()
        wait(lambda: requests("GET", "/orders") and "Buying" not in answer(), "the answer", show=answer)
        text = answer()
        eq(requests("POST"), [], "no purchase sent while the probe failed")
        check("Nothing bought" in text, "nothing bought, said: %r" % text)
    finally:
        box.stack("start", "ticket")
    box.wait_until(lambda: box.http("GET", "/tickets/health").status == 200, timeout=60,
                   what="the purchase responder back")
    for s in mine:
        if seat(*s).get_attribute("aria-pressed") != "true":
            seat(*s).click()
    drv.find_element(By.ID, "buy").click()
    wait(lambda: "Bought 2 seats" in answer(), "the purchase once the responder is back", show=answer)
    eq(requests("POST", "/tickets"), [], "never seat by seat")
    eq(len(requests("POST", "/holds")), 1, "one hold for both seats")
    no_console_errors("failed probe")


def test_event_switched_while_buying():
    """The person picks another event while a purchase is in flight (the
    page's POST held back in the page), and the answer (410, the first
    event was cancelled meanwhile) comes after: it is told, nothing
    breaks, and Buy works for the other event."""
    catalog.apply_ok(base(), "the catalog")
    try:
        choose(NGINX, "Venue2", "Event3", 1)
        record_requests()
        seat(2, 1).click()
        block_queries(True)
        try:
            eq(catalog.ctl("event", "cancel", "Event3").returncode, 0, "cancel Event3")
            drv.execute_script("window.__park = true")
            drv.find_element(By.ID, "buy").click()
            wait(lambda: [r for r in requests("POST") if r.get("parked")], "the purchase sent")
        finally:
            block_queries(False)
        Select(drv.find_element(By.ID, "event")).select_by_value("Event2")
        wait(lambda: "Chamber Evening" in drv.find_element(By.ID, "event-info").text, "Event2 shown")
        drv.execute_script("window.__park = false; window.__release()")
        wait(lambda: "cancelled" in answer(), "the 410 told", show=answer)
        btn = wait(lambda: drv.find_element(By.CSS_SELECTOR, "button[data-zone='2']"), "zone button")
        btn.click()
        wait(lambda: drv.find_elements(By.CSS_SELECTOR, "#seats .seat"), "Event2's seat map")
        seat(3, 7).click()
        wait(lambda: drv.find_element(By.ID, "buy").get_attribute("disabled") is None,
             "Buy enabled for the other event")
        no_console_errors("event switched while buying")
    finally:
        catalog.apply_ok(base(), "the catalog again")


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
