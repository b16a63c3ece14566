//! Fracttal One: OAuth client, work-order sources, work-request target.
