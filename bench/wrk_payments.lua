-- wrk script: automatic-capture payments, each with a fresh Idempotency-Key.
-- A C client takes far less CPU than a Python one, leaving the 2 cores to server and DB.
-- usage: PAYSTEAD_API_KEY=sk_... wrk -t2 -c64 -d20s -s bench/wrk_payments.lua http://127.0.0.1:8000
local counter = 0
local thread_id = 0

function setup(thread)
   thread_id = thread_id + 1
   thread:set("tid", thread_id)
end

function init(args)
   math.randomseed(os.time() + tid)
   wrk.method = "POST"
   wrk.path = "/v1/payments"
   wrk.body = '{"amount":50000,"currency":"INR","payment_method":"pm_card_visa","description":"bench"}'
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Authorization"] = "Bearer " .. os.getenv("PAYSTEAD_API_KEY")
end

function request()
   counter = counter + 1
   wrk.headers["Idempotency-Key"] = string.format("wrk-%d-%d-%d", tid, counter, math.random(1, 1e9))
   return wrk.format()
end

function done(summary, latency, requests)
   local non2xx = summary.errors.status
   io.write(string.format("requests: %d  non-2xx: %d  socket errors: %d\n",
      summary.requests, non2xx, summary.errors.connect + summary.errors.read
         + summary.errors.write + summary.errors.timeout))
   for _, p in ipairs({50, 95, 99}) do
      io.write(string.format("p%d: %.1f ms\n", p, latency:percentile(p) / 1000))
   end
end
