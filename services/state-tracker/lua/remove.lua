-- ARGV: id history_cap [sequencer]
-- The source object was deleted (an s3:ObjectRemoved notification). A file not converted yet ends
-- REMOVED: PENDING or FAILED, and IN_PROGRESS too (its worker's Complete or Fail is then refused, as
-- for a lost lease). A COMPLETED file keeps its state: its output exists. A removal that is not later
-- than the newest event seen for the key (sequencer) is a replay, or older than a new upload: no change.
local id = ARGV[1]
local k = fkey(id)
local seq = string.upper(ARGV[3] or '')
local cur = redis.call('HMGET', k, 'state', 'seq')
if not cur[1] then return {0, 'not found'} end
if seq ~= '' then
  if cur[2] and not seq_later(seq, cur[2]) then return {0, record(id)} end
  -- Remembered whatever the state, so a replayed older creation cannot bring the key back.
  redis.call('HSET', k, 'seq', seq)
end
local prev = cur[1]
if prev == 'COMPLETED' or prev == 'REMOVED' then return {0, record(id)} end
local now = now_ms()
local why = 'source object removed'
redis.call('HSET', k, 'state', 'REMOVED', 'error', why, 'updated_ms', now)
redis.call('HDEL', k, 'worker', 'lease_exp', 'retryable')
redis.call('ZREM', P .. 'leases', id)
redis.call('ZREM', P .. 'ready', id)
move_state(id, prev, 'REMOVED')
history(id, prev, 'REMOVED', now, '', why, tonumber(ARGV[2]))
return {1, record(id)}
