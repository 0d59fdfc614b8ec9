-- ARGV: min max limit history_cap (ZRANGEBYLEX bounds over the FAILED ids)
-- FAILED -> PENDING with attempts reset (an operator's Redrive, once the cause is fixed).
local now = now_ms()
local cap = tonumber(ARGV[4])
local ids = redis.call('ZRANGEBYLEX', P .. 'state:FAILED', ARGV[1], ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  local k = fkey(id)
  redis.call('HSET', k, 'state', 'PENDING', 'attempts', 0, 'free', 0, 'infra_run', 0, 'updated_ms', now)
  redis.call('HDEL', k, 'worker', 'lease_exp', 'error', 'retryable')
  move_state(id, 'FAILED', 'PENDING')
  redis.call('ZADD', P .. 'ready', now, id)
  history(id, 'FAILED', 'PENDING', now, '', 'redriven', cap)
end
return #ids
