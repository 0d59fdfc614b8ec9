-- ARGV: id worker attempt lease_ms
local id = ARGV[1]
local k = fkey(id)
local why = holds(k, ARGV[2], tonumber(ARGV[3]))
if why then return {0, why} end
local exp = now_ms() + tonumber(ARGV[4])
redis.call('HSET', k, 'lease_exp', exp)
redis.call('ZADD', P .. 'leases', exp, id)
return {1, exp}
