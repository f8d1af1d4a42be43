"""The mailer service: sends the system's e-mails from send_email commands."""
