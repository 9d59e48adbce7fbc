# Stand-in for nginx:1.27-alpine: Debian bookworm's nginx, laid out like the
# official image: server blocks in /etc/nginx/conf.d, logs to the container's
# output, in the foreground.
FROM mnist-standin/nginx-root
RUN rm -f /etc/nginx/sites-enabled/default \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 80
# Graceful shutdown, as the official image: SIGQUIT.
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
