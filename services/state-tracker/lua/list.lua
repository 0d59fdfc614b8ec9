-- ARGV: state limit cursor
local from = ARGV[3] == '' and '-' or ('(' .. ARGV[3])
local ids = redis.call('ZRANGEBYLEX', P .. 'state:' .. ARGV[1], from, '+', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do table.insert(out, {id, record(id)}) end
return out
