-- Shared by every script: KEYS[1] is the key prefix; time is the Redis server's.
local P = KEYS[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function fkey(id) return P .. 'f:' .. id end
local function move_state(id, from, to)
  if from and from ~= '' then redis.call('ZREM', P .. 'state:' .. from, id) end
  redis.call('ZADD', P .. 'state:' .. to, 0, id)
end
-- Records a transition: the capped per-file history, and the files.state event in the outbox stream
-- (same script, same atomicity: an event exists exactly when its transition happened).
local function history(id, from, to, ts, worker, err, cap)
  local h = P .. 'h:' .. id
  redis.call('LPUSH', h, cjson.encode({from = from or '', to = to, ts_ms = ts, worker_id = worker or '',
                                       error = err or ''}))
  redis.call('LTRIM', h, 0, cap - 1)
  local f = redis.call('HMGET', P .. 'f:' .. id, 'bucket', 'key', 'etag', 'attempts', 'error')
  redis.call('XADD', P .. 'outbox', 'MAXLEN', '~', 1000000, '*', 'key', id, 'event',
             cjson.encode({bucket = f[1], key = f[2], etag = f[3], state = to, attempt = tonumber(f[4]) or 0,
                           error = f[5] or '', ts_ms = ts}))
end
local function record(id) return redis.call('HGETALL', fkey(id)) end
-- The caller holds the file: IN_PROGRESS, same worker, and (attempt > 0) the same attempt.
local function holds(k, worker, attempt)
  local f = redis.call('HMGET', k, 'state', 'worker', 'attempts')
  if not f[1] then return 'not found' end
  -- s3-converter reads "file is REMOVED" in a refused Complete: it then deletes the output it wrote.
  if f[1] ~= 'IN_PROGRESS' then return 'file is ' .. f[1] .. ', not IN_PROGRESS' end
  if f[2] ~= worker then return 'file is held by worker ' .. (f[2] or '') end
  if attempt > 0 and tonumber(f[3]) ~= attempt then
    return 'lease of attempt ' .. attempt .. ' was lost (current attempt ' .. f[3] .. ')'
  end
  return nil
end
-- Sequencers are hex strings of any length (upper-cased by the caller): a is later than b when it is
-- greater left-padded to the same length.
local function seq_later(a, b)
  local n = math.max(#a, #b)
  return string.rep('0', n - #a) .. a > string.rep('0', n - #b) .. b
end
