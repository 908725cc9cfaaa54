# Madoguchi Ward Office: the client's words in English. The ids match ja.ftl and ja-easy.ftl
# (a test checks).
app-title = Madoguchi Ward Office

state-idle = Not connected
state-requesting = Connecting…
state-handshaking = Entering the office…
state-connected = Connected
state-reconnecting = Connection lost; reconnecting in { $seconds } s ({ $reason })
state-failed = Cannot connect: { $why }

ticket-none = No ticket: press E at a counter, or "Take a ticket"
ticket-waiting = { $label }  position { $position }  wait { $wait }
wait-minutes = about { $minutes } min
wait-unknown = unknown
ticket-called = { $label }  called: go to counter { $counter } ({ $department })
ticket-serving = { $label }  being served
banner-called = Ticket { $label }: please come to counter { $counter } ({ $department }) in { $room }

staff-mark = staff
sign-open = { $counter } open: { $clerk }
sign-closed = { $counter } closed

near-counter = Counter { $counter }: { $department }
button-take = Take a ticket
button-chat = Chat

chat-prompt = Chat: { $text }
chat-hint = Enter to chat, Esc to cancel

join-title = Welcome to the Madoguchi Ward Office
join-name = Your name: { $name }
join-name-hint = Type your name, then Enter
join-lang = Language (keys 1, 2, 3)
join-enter = Enter
join-need-name = Please type your name

error-chat_too_long = That message is too long
error-chat_rate_limited = Too fast; wait a moment
error-chat_empty = The message is empty
error-not_near_counter = Walk up to the counter first
error-queue_closed = The counter is closed now
error-ticket_exists = You already hold a ticket for this department
error-rate_limited = Too many requests; wait a moment
error-unavailable = Not available right now; please try again
error-name_invalid = That name cannot be used
error-target_invalid = You cannot go there
