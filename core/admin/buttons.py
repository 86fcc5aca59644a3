"""Context for a change page whose record only services change: no save or delete
buttons (the page's own actions call the services)."""

NO_SAVE_BUTTONS = {
    "show_save": False,
    "show_save_and_continue": False,
    "show_save_and_add_another": False,
    "show_delete": False,
}
