-- ARGV: id
local id = ARGV[1]
return {record(id), redis.call('LRANGE', P .. 'h:' .. id, 0, -1)}
