-- ARGV: limit max_attempts history_cap
local now = now_ms()
local cap = tonumber(ARGV[3])
local ids = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZREM', P .. 'leases', id)
  local k = fkey(id)
  local f = redis.call('HMGET', k, 'state', 'lease_exp', 'attempts', 'worker', 'free')
  if f[1] == 'IN_PROGRESS' then
    if tonumber(f[2]) > now then
      redis.call('ZADD', P .. 'leases', f[2], id)
    else
      local attempts = tonumber(f[3])
      local err = 'lease of worker ' .. (f[4] or '') .. ' expired (attempt ' .. attempts .. ')'
      redis.call('HDEL', k, 'lease_exp')
      if attempts - tonumber(f[5] or '0') >= tonumber(ARGV[2]) then
        err = err .. '; no attempts left'
        redis.call('HSET', k, 'state', 'FAILED', 'error', err, 'retryable', '0', 'updated_ms', now)
        move_state(id, 'IN_PROGRESS', 'FAILED')
        history(id, 'IN_PROGRESS', 'FAILED', now, f[4], err, cap)
      else
        redis.call('HSET', k, 'state', 'PENDING', 'error', err, 'updated_ms', now)
        redis.call('ZADD', P .. 'ready', now, id)
        move_state(id, 'IN_PROGRESS', 'PENDING')
        history(id, 'IN_PROGRESS', 'PENDING', now, f[4], err, cap)
      end
      table.insert(out, record(id))
    end
  end
end
return out
