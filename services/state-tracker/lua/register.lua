-- ARGV: id bucket key etag size history_cap [sequencer] [only_if_absent: 1 = leave a known key alone]
local id = ARGV[1]
local k = fkey(id)
local seq = string.upper(ARGV[7] or '')
local cur = redis.call('HMGET', k, 'etag', 'state', 'seq')
-- A REMOVED key that is listed or uploaded again is a new life of the key, whatever its ETag.
local removed = cur[2] == 'REMOVED'
if ARGV[8] == '1' and cur[2] and not removed then return {0, record(id)} end
if seq ~= '' and cur[3] and not seq_later(seq, cur[3]) then return {0, record(id)} end
if cur[1] == ARGV[4] and not removed then
  if seq ~= '' then redis.call('HSET', k, 'seq', seq) end
  return {0, record(id)}
end
local now = now_ms()
local prev = cur[2]
if prev then
  redis.call('ZREM', P .. 'leases', id)
  redis.call('ZREM', P .. 'ready', id)
  redis.call('HDEL', k, 'worker', 'lease_exp', 'output_key', 'sha256', 'error', 'retryable')
end
redis.call('HSET', k, 'bucket', ARGV[2], 'key', ARGV[3], 'etag', ARGV[4], 'size', ARGV[5],
           'state', 'PENDING', 'attempts', 0, 'free', 0, 'infra_run', 0, 'created_ms', now, 'updated_ms', now)
if seq ~= '' then redis.call('HSET', k, 'seq', seq) end
move_state(id, prev, 'PENDING')
redis.call('ZADD', P .. 'ready', now, id)
history(id, prev, 'PENDING', now, '', prev and 'new version ' .. ARGV[4] or '', tonumber(ARGV[6]))
return {1, record(id)}
