"""Lambda handlers the stacks deploy inline: each a standalone module (boto3 and the standard
library only), so its template shows the code a reviewer approves and tests import it."""
