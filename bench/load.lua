-- wrk script for the Parrot benchmarks: POST chat-completion bodies, one JSON summary line.
--
--   wrk -t2 -c64 -d10s -s bench/load.lua http://127.0.0.1:PORT -- MODE PATH NONCE HITSET
--
-- MODE   hit    cycle through a fixed set of HITSET prompts (prime them once beforehand)
--        miss   every request carries a prompt no other request of any run has used
--               (NONCE + thread id + per-thread counter)
--        mixed  7 of every 10 requests from the hit set, 3 unique (70 % hits / 30 % misses)
-- PATH   request path, default /v1/chat/completions
-- NONCE  any string unique to this wrk invocation (keeps misses unique across runs)
-- HITSET number of distinct hit prompts, default 64 (must match what was primed)
--
-- done() prints one line "WRK_JSON {...}" with requests, duration, latency percentiles (ms)
-- and error counts; wrk itself counts every status >= 400 in errors.status.

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
  table.insert(threads, thread)
end

local mode, path, nonce, hitset
local tid, counter
local hit_requests = {}

local headers = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Bearer sk-bench",
}

-- Must stay identical to prompt_body() in bench/bench.py: priming and nginx's body depend on it.
local function body_for(prompt)
  return '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"' .. prompt .. '"}]}'
end

function hit_prompt(i)
  return "bench hit prompt number " .. i
end

function init(args)
  mode = args[1] or "hit"
  path = args[2] or "/v1/chat/completions"
  nonce = args[3] or tostring(os.time())
  hitset = tonumber(args[4] or "64")
  tid = tonumber(wrk.thread:get("tid")) or 1
  counter = 0
  for i = 0, hitset - 1 do
    hit_requests[i] = wrk.format("POST", path, headers, body_for(hit_prompt(i)))
  end
end

local function unique_request()
  local prompt = "bench miss " .. nonce .. " t" .. tid .. " n" .. counter
  return wrk.format("POST", path, headers, body_for(prompt))
end

function request()
  counter = counter + 1
  if mode == "miss" then
    return unique_request()
  elseif mode == "mixed" then
    if counter % 10 < 7 then
      return hit_requests[(counter * 7 + tid) % hitset]
    end
    return unique_request()
  end
  return hit_requests[(counter + tid * 17) % hitset]
end

function done(summary, latency, requests)
  local e = summary.errors
  local p = {}
  for _, q in ipairs({50, 90, 99, 99.9}) do
    p[#p + 1] = string.format('"p%s":%.4f', tostring(q):gsub("%.", "_"), latency:percentile(q) / 1000.0)
  end
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_s":%.6f,"bytes":%d,"rps":%.3f,' ..
    '"latency_ms":{%s,"mean":%.4f,"max":%.4f,"stdev":%.4f},' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"threads":%d}\n',
    summary.requests, summary.duration / 1e6, summary.bytes,
    summary.requests / (summary.duration / 1e6),
    table.concat(p, ","), latency.mean / 1000.0, latency.max / 1000.0, latency.stdev / 1000.0,
    e.connect, e.read, e.write, e.status, e.timeout, thread_count))
end
