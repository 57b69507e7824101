-- name: list_changes
-- The change log, oldest first, optionally for one spoke and since a time. cc_records is
-- append-only: a pending record a person decided shows as approved or rejected, derived from
-- the decision record that refers to it (decided_in names that record).
select c.seq, c.run_id, c.spoke_id as spoke, c.kind,
       case when c.status = 'pending_review' and d.seq is not null
            then case when d.status = 'applied' then 'approved' else 'rejected' end
            else c.status end as status,
       c.created_at, c.source_study_uids, c.target_study_uids, c.instance_count as instances,
       c.attributes, c.evidence, coalesce(c.decided_by, d.decided_by) as decided_by,
       coalesce(c.reason, d.reason) as reason, c.refers_to, d.seq as decided_in
from cc_records c
left join (select refers_to, arg_min(seq, seq) as seq, arg_min(status, seq) as status,
                  arg_min(decided_by, seq) as decided_by, arg_min(reason, seq) as reason
           from cc_records
           where refers_to is not null and run_id like 'review:%'
           group by refers_to) d on d.refers_to = c.seq and c.status = 'pending_review'
where ($spoke is null or c.spoke_id = $spoke)
  and ($since is null or c.created_at >= $since)
order by c.seq
