-- ARGV: worker max_files lease_ms history_cap
local worker = ARGV[1]
local lease = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
local now = now_ms()
local ids = redis.call('ZRANGEBYSCORE', P .. 'ready', '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZREM', P .. 'ready', id)
  local k = fkey(id)
  local f = redis.call('HMGET', k, 'state', 'retryable')
  if f[1] == 'PENDING' or (f[1] == 'FAILED' and f[2] == '1') then
    redis.call('HINCRBY', k, 'attempts', 1)
    local exp = now + lease
    redis.call('HSET', k, 'state', 'IN_PROGRESS', 'worker', worker, 'lease_exp', exp, 'updated_ms', now)
    move_state(id, f[1], 'IN_PROGRESS')
    redis.call('ZADD', P .. 'leases', exp, id)
    history(id, f[1], 'IN_PROGRESS', now, worker, '', cap)
    table.insert(out, record(id))
  end
end
return out
