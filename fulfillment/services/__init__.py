"""Fulfillment's write side: every change to a redemption, its supplier orders, its
deliveries and shipments goes through a function here.

- ``transitions``: the redemption state machine, the one writer of status and events;
- ``redemptions``: a member redeems (points spent, stock taken, the first order);
- ``outcomes``: delivered, failed over, refunded: what dispatch and staff both record;
- ``dispatch``: the claim loop that places and polls supplier orders;
- ``interventions``: what the Fulfillment team does by hand;
- ``code_reveals``: a delivered code in clear, audited;
- ``reissue``, ``delivery`` (the claim link and email), ``shipments``.
"""
