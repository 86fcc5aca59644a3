"""Member messages: the emails a program sends its members (expiry warnings, welcome, tier,
achievement and referral messages), each once, in the member's language and the
merchant's brand, with a one-click unsubscribe. ``content`` says what a message says,
``emails`` builds the email, ``services`` sends it and handles the member's clicks,
``jobs`` finds what to send."""
