return {redis.call('ZCARD', P .. 'state:PENDING'), redis.call('ZCARD', P .. 'state:IN_PROGRESS'),
        redis.call('ZCARD', P .. 'state:COMPLETED'), redis.call('ZCARD', P .. 'state:FAILED'),
        redis.call('ZCARD', P .. 'state:REMOVED')}
