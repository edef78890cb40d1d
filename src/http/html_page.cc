#include "http/html_page.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <vector>

#include "http/html_escape.h"

namespace taskring::http {
namespace {

constexpr const char* kStyle = R"css(
body{font:14px system-ui,sans-serif;margin:1em 1.5em;color:#222}
.cols{display:flex;flex-wrap:wrap;gap:2em;align-items:flex-start}.cols h2{margin-top:0}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse;margin:.5em 0}td,th{border-bottom:1px solid #ddd;padding:3px 6px;text-align:right;vertical-align:top}
th{font-size:.9em}
th{background:#f4f4f4}td.l,th.l{text-align:left}
.up{color:#070}.down,.refusing{color:#b00}.paused{color:#a60}
form.a{display:inline;margin:0}pre{margin:0;white-space:pre-wrap;overflow-wrap:anywhere;max-width:40em;text-align:left}
svg{background:#fafafa;border:1px solid #eee}polyline{fill:none;stroke-width:1.5}
text.max{font-size:10px;fill:#888}td.spark{white-space:nowrap}#queues{font-size:13px}
.s0{stroke:#36c}.s1{stroke:#090}.s2{stroke:#c33}.s3{stroke:#a6c}
nav a{margin-right:1em}.muted{color:#888}
)css";

// Served as /ui.js, the only script the pages' Content-Security-Policy allows (no inline code
// runs, so a string that escaped escaping still could not). Asks forms with data-confirm before
// they post; refreshes [data-queue] rows' [data-field] cells from /queues and redraws
// svg[data-history] charts from /queues/{q}/history every 2 s. Values are written with
// textContent: never HTML.
constexpr const char* kScript = R"js(
(function(){
const J={headers:{Accept:'application/json'},credentials:'same-origin'};
function pick(o,p){return p.split('.').reduce((a,k)=>a==null?a:a[k],o);}
function fmt(v){return typeof v==='number'?(Number.isInteger(v)?String(v):v.toFixed(2)):String(v);}
function pts(v,w,h,m){return v.map((x,i)=>(v.length<2?0:i*w/(v.length-1)).toFixed(1)+','+(h-1-(x/m)*(h-2)).toFixed(1)).join(' ');}
async function tick(){
 try{const r=await fetch('/queues',J);if(r.ok){for(const q of await r.json()){
  const row=document.querySelector('[data-queue="'+CSS.escape(String(q.queue))+'"]');if(!row)continue;
  for(const c of row.querySelectorAll('[data-field]')){const v=pick(q,c.dataset.field);if(v!==undefined&&v!==null)c.textContent=fmt(v);}}}}catch(e){}
 for(const s of document.querySelectorAll('svg[data-history]')){try{
  const r=await fetch('/queues/'+encodeURIComponent(s.dataset.history)+'/history?limit='+(s.dataset.limit||300),J);if(!r.ok)continue;
  const h=await r.json(),ls=[...s.querySelectorAll('polyline[data-series]')];
  const vs=ls.map(l=>h.samples.map(x=>+x[l.dataset.series]||0)),m=Math.max(1e-9,...vs.flat());
  ls.forEach((l,i)=>l.setAttribute('points',pts(vs[i],+s.getAttribute('width'),+s.getAttribute('height'),m)));
  const t=s.querySelector('text.max');if(t)t.textContent='max '+fmt(vs.flat().length?m:0);}catch(e){}}
}
document.addEventListener('submit',e=>{const m=e.target.dataset&&e.target.dataset.confirm;if(m&&!confirm(m))e.preventDefault();});
setInterval(tick,2000);
})();
)js";

// An SVG polyline's points for `v`, scaled so that `m` is the top of the chart.
std::string Points(const std::vector<double>& v, int w, int h, double m) {
  std::string out;
  char buf[64];
  for (size_t i = 0; i < v.size(); ++i) {
    const double x = v.size() < 2 ? 0 : static_cast<double>(i) * w / (v.size() - 1);
    const double y = h - 1 - (v[i] / m) * (h - 2);
    std::snprintf(buf, sizeof(buf), "%s%.1f,%.1f", i ? " " : "", x, y);
    out += buf;
  }
  return out;
}

}  // namespace

std::string Page(std::string_view title, const PageContext& ctx, const std::string& body) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width\">"
      "<meta name=\"csrf-token\" content=\"" +
      HtmlEscape(ctx.csrf) + "\"><title>" + HtmlEscape(title) + " · taskring</title><style>" +
      kStyle + "</style></head><body><nav><a href=\"/\">taskring</a></nav>\n" + body +
      "\n<script src=\"/ui.js\"></script></body></html>\n";
  return out;
}

std::string Text(const Json& v) {
  if (v.is_null()) return "–";
  if (v.is_string()) return HtmlEscape(v.get_ref<const std::string&>());
  if (v.is_number_float()) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.2f", v.get<double>());
    return buf;
  }
  if (v.is_number() || v.is_boolean()) return v.dump();
  return HtmlEscape(Dump(v));
}

Json Pick(const Json& j, std::string_view path) {
  const Json* v = &j;
  for (;;) {
    const size_t dot = path.find('.');
    const std::string key(path.substr(0, dot));
    if (!v->is_object() || !v->contains(key)) return nullptr;
    v = &(*v)[key];
    if (dot == std::string_view::npos) return *v;
    path.remove_prefix(dot + 1);
  }
}

uint64_t AsU64(const Json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() > 0) return static_cast<uint64_t>(v.get<int64_t>());
  return 0;
}

std::string ActionButton(const PageContext& ctx, const std::string& action,
                         std::string_view data_action, std::string_view label,
                         std::string_view confirm) {
  std::string out = "<form class=\"a\" method=\"post\" action=\"" + HtmlEscape(action) + "\"";
  if (!confirm.empty()) {
    // Text in an attribute the script reads (never code): escaping is all it needs.
    out += " data-confirm=\"" + HtmlEscape(confirm) + "\"";
  }
  out += "><input type=\"hidden\" name=\"csrf\" value=\"" + HtmlEscape(ctx.csrf) +
         "\"><button type=\"submit\" data-action=\"" + HtmlEscape(data_action) + "\"";
  if (ctx.read_only) {
    out += " disabled title=\"read-only: this gateway runs with --read-only\"";
  }
  return out + ">" + HtmlEscape(label) + "</button></form>";
}

std::string Chart(const Json& history, const std::string& refresh_queue,
                  std::initializer_list<const char*> series, int width, int height, size_t limit) {
  std::string out = "<svg width=\"" + std::to_string(width) + "\" height=\"" +
                    std::to_string(height) + "\" role=\"img\"";
  if (!refresh_queue.empty()) {
    out += " data-history=\"" + HtmlEscape(refresh_queue) + "\" data-limit=\"" +
           std::to_string(limit) + "\"";
  }
  out += ">";
  // One scale for every series of a chart, so they compare, and its top written on the chart.
  std::vector<std::vector<double>> values;
  double top = 0;
  for (const char* name : series) {
    std::vector<double>& v = values.emplace_back();
    if (history.is_object() && history.contains("samples") && history["samples"].is_array()) {
      for (const Json& s : history["samples"]) {
        const Json& x = s.is_object() && s.contains(name) ? s[name] : Json(nullptr);
        v.push_back(x.is_number() ? x.get<double>() : 0.0);
        top = std::max(top, v.back());
      }
    }
  }
  int k = 0;
  for (const char* name : series) {
    out += "<polyline class=\"s" + std::to_string(k % 4) + "\" data-series=\"" + HtmlEscape(name) +
           "\" points=\"" + Points(values[k], width, height, std::max(1e-9, top)) + "\"><title>" +
           HtmlEscape(name) + "</title></polyline>";
    ++k;
  }
  return out + "<text class=\"max\" x=\"4\" y=\"12\">max " + Text(Json(top)) + "</text></svg>";
}

std::string QueueState(const Json& stats) {
  // Pick, not value(): a field of an unexpected type reads as absent rather than throwing.
  if (!stats.is_object() || stats.contains("error")) return "down";
  if (Pick(stats, "paused") == Json(true)) return "paused";
  if (Pick(stats, "up") == Json(true)) return "up";
  const Json d = Pick(stats, "daemon");
  if (d.is_string() && d.get_ref<const std::string&>().rfind("refusing", 0) == 0) {
    return "refusing";
  }
  return "down";
}

std::string UnixMsText(uint64_t unix_ms) {
  if (unix_ms == 0) return "–";
  const time_t secs = static_cast<time_t>(unix_ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%SZ", &tm);
  return buf;
}

Response HtmlResponse(bhttp::status code, std::string body) {
  Response res{code, 11};
  res.set(bhttp::field::content_type, "text/html; charset=utf-8");
  res.set(bhttp::field::cache_control, "no-store");
  res.set("Content-Security-Policy",
          "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; "
          "connect-src 'self'; img-src 'self' data:; form-action 'self'; "
          "frame-ancestors 'none'; base-uri 'none'");
  res.set("X-Content-Type-Options", "nosniff");
  // same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on the
  // pages' own form posts, which the Origin check must refuse. Other sites still get nothing.
  res.set("Referrer-Policy", "same-origin");
  res.body() = std::move(body);
  return res;
}

Response PageScriptResponse() {
  Response res{bhttp::status::ok, 11};
  res.set(bhttp::field::content_type, "text/javascript; charset=utf-8");
  res.set(bhttp::field::cache_control, "no-cache");
  res.set("X-Content-Type-Options", "nosniff");
  res.body() = kScript;
  return res;
}

}  // namespace taskring::http
