# Madoguchi Ward Office: the client's words in English. The ids match ja.ftl and ja-easy.ftl
# (a test checks).
app-title = Madoguchi Ward Office

state-idle = Not connected
state-requesting = Connecting…
state-handshaking = Entering the office…
state-connected = Connected
state-reconnecting = Connection lost; reconnecting in { $seconds } s ({ $reason })
state-failed = Cannot connect: { $why }
state-session-ended = Your session has ended

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
join-session-ended = Your session ended, and its waiting tickets were cancelled. Join again to continue as a new guest.
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
error-busy = The office is busy; please try again in a moment
error-session_ended = Your session has ended, and your waiting tickets were cancelled. Join again to take a new one.
error-replaced = You connected again from another window or device; this one is closed
error-connection_limit = Too many connections from your network; close another window first
error-name_invalid = That name cannot be used
error-target_invalid = You cannot go there

## The text mode (/text) and the front page.
text-nav-language = Language
text-front-intro = Take a queue ticket and talk to the ward office without going there.
text-front-enter-3d = Enter the 3D office
text-front-text-mode = テキスト版 / Text mode
text-front-text-mode-what = take a ticket and follow the queue (screen readers and keyboard welcome)
text-title = Text mode counter
text-skip = Skip to content
text-unavailable = Unavailable; try again shortly.
text-mine-heading = Your tickets
text-name-label = Name:
text-reload-hint = This page updates itself when JavaScript is on. Without it, press "Refresh" now and then to see whether you are called. Once called, please come to the counter within { $minutes } minutes.
text-start-heading = Start
text-start-intro = Enter the name the clerk will call you by (a nickname is fine).
text-start-name = Name
text-start-button = Start
text-depts-heading = Departments and queues
text-depts-caption = Each department's state, people waiting and opening hours
text-col-department = Department
text-col-status = Status
text-col-waiting = Waiting
text-col-hours = Hours
text-col-ticket = Ticket
text-dept-open = open ({ $desks } { $desks ->
        [one] counter
       *[other] counters
    } staffed)
text-dept-closed-until = closed (opens { $when })
text-dept-closed = closed
text-waiting-count = { $count }
text-take-button = Take a ticket
text-leave-button = Finish (forget this session on this device)
text-refresh = Refresh
text-hours = { $days } { $open }–{ $close }
text-day-separator = {", "}
text-weekday-mon = Mon
text-weekday-tue = Tue
text-weekday-wed = Wed
text-weekday-thu = Thu
text-weekday-fri = Fri
text-weekday-sat = Sat
text-weekday-sun = Sun
text-when = { $weekday } { $date } { $clock }
text-wait-minutes = about { $minutes } min
text-wait-unknown = unknown
text-no-ticket = You hold no ticket. Choose a department below to take one.
text-number = Number
text-waiting-line = Position { $position } in the queue ({ $ahead } ahead of you). Estimated wait: { $wait }
text-called = Number { $label } is being called. Please go to { $counter }.
text-called-again = Number { $label } is being called (called again). Please go to { $counter }.
text-counter-name = counter { $counter } ({ $room })
text-arrived-button = I am at the counter
text-serving = You are being served at the counter.
text-cancel-button = Cancel
text-ended-heading = Earlier tickets today
text-ended-served = served
text-ended-no-show = ended: not at the counter when called
text-ended-cancelled = cancelled
text-ended-other = ended
text-notice-taken = You have taken a ticket.
text-notice-cancelled = Your ticket is cancelled.
text-notice-arrived = The counter knows you are there.
text-notice-ticket-exists = You already hold a ticket for this department.
text-notice-rate-limited = Too many tickets in a short time; please wait a minute.
text-notice-unknown-department = There is no such department.
text-notice-no-ticket = That ticket was not found.
text-notice-session = Please start again (your session has ended).
text-notice-name = Please enter a name of 1 to 32 characters.
text-notice-unavailable = The office is busy; please try again shortly.
text-notice-closed-until = { $department } is closed now. Tickets are taken again from { $when }.
text-notice-closed = { $department } is closed now.
